"""The payer claims API (HCMS) stand-in: submit, status, webhook registration
(payer-claims-api-integration-guide.md). Webhook delivery lives in sandbox/webhooks.py.

Under the strict profile (knob `profile`): amounts come as strings (the guide allows "string
or number"), webhooks are signed over the raw body only, an approval is followed by a
payment_processed event (sandbox/webhooks.py). The `claim_fault` knob (timeout or drop)
stores the claim and then loses the answer, as a real network can.

Rules: insurance ids matching BC-ddd-ddd are enrolled, except BC-999-999 (the guide's
not-found example). Procedures starting 157 (cosmetic, e.g. 15776) and diagnosis Z51.12
are excluded: the claim goes under_review, and after the review_delay knob it is approved,
or rejected when the amount is over 10000. Everything else is approved at once, 80% paid.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from revcycle.medcodes import is_icd10cm
from sandbox.demo_data import payer_insurance_id
from sandbox.knobs import knob, service_endpoint
from sandbox.models import PayerClaim, PayerWebhook
from sandbox.webhooks import (
    deliver_due_webhooks,
    ensure_worker,
    iso_utc,
    queue_payment,
    settle_claim,
)

PAYOR_ID = "PAY001"
REQUIRED = ["patient_name", "insurance_id", "diagnosis_code", "amount"]
INSURANCE_RE = re.compile(r"^BC-\d{3}-\d{3}$")
NOT_ENROLLED = {"BC-999-999"}
# The sandbox checks the shape the app checks (revcycle.medcodes), so every code the app
# accepts passes here: S72.001A and U07.1 too (READING-NOTES.md: the guide's check is too
# strict). The app checks more (the real list, billable codes only).
EXCLUDED_DIAGNOSES = {"Z51.12"}
EXCLUDED_PROCEDURE_PREFIX = "157"
PATIENT_SHARE = Decimal("0.20")


def problem(status: int, message: str, code: str, suggestions: list[str]) -> JsonResponse:
    return JsonResponse({"error": message, "error_code": code, "claim_id": None,
                         "suggestions": suggestions}, status=status)


def is_enrolled(insurance_id: str) -> bool:
    """BC-ddd-ddd ids, and a demo account's subscriber id (what the claim form prefills),
    enrolled as that patient's BC id is (demo_data.payer_insurance_id)."""
    insurance_id = payer_insurance_id(insurance_id)
    return bool(INSURANCE_RE.match(insurance_id)) and insurance_id not in NOT_ENROLLED


def exclusion(diagnosis: str, procedure: str) -> str:
    """Why a claim needs manual review, or "" when it is covered."""
    if procedure.startswith(EXCLUDED_PROCEDURE_PREFIX):
        return f"Procedure code {procedure} is excluded from coverage"
    if diagnosis.upper() in EXCLUDED_DIAGNOSES:
        return f"Diagnosis code {diagnosis} is excluded from coverage"
    return ""


def _api_key_problem(request: HttpRequest) -> JsonResponse | None:
    # Any non-empty key is accepted; the key itself is never logged or stored.
    if "X-Api-Key" in request.headers and not request.headers["X-Api-Key"].strip():
        return problem(401, "Empty API key", "INVALID_API_KEY",
                       ["Send your provider API key in X-API-Key, or omit the header"])
    return None


def _parse(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return problem(400, "The body must be a JSON object", "INVALID_JSON",
                       ["Send Content-Type: application/json with a JSON object"])
    missing = [f for f in REQUIRED if data.get(f) in (None, "")]
    if missing:
        return problem(400, f"Missing required fields: {', '.join(missing)}", "MISSING_FIELDS",
                       [f"Provide {f}" for f in missing])
    try:
        amount = Decimal(str(data["amount"]).replace(",", "").strip())
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0:
        return problem(400, f"Invalid amount: {data['amount']!r}", "INVALID_AMOUNT",
                       ["Send the amount as a positive number, e.g. \"1250.00\""])
    if not is_icd10cm(str(data["diagnosis_code"])):
        return problem(400, f"Invalid ICD-10 diagnosis code: {data['diagnosis_code']}",
                       "INVALID_DIAGNOSIS_CODE",
                       ["Use an ICD-10 code such as J20.9", "Check the code with the coder"])
    data["amount"] = str(amount.quantize(Decimal("0.01")))
    return data


def _number(value: Decimal, as_text: bool) -> float | str:
    return str(value.quantize(Decimal("0.01"))) if as_text else float(value)


def claim_json(claim: PayerClaim, strict: bool = False) -> dict[str, Any]:
    p = claim.payload
    out: dict[str, Any] = {
        "claim_id": claim.claim_id, "patient_name": p.get("patient_name"),
        "insurance_id": p.get("insurance_id"), "diagnosis_code": p.get("diagnosis_code"),
        "procedure_code": p.get("procedure_code"), "amount": _number(claim.amount, strict),
        "status": claim.status, "coverage_validated": claim.coverage_validated,
        "coverage_message": claim.coverage_message, "auto_approved": claim.auto_approved,
        "submitted_date": iso_utc(claim.submitted_at),
        "processed_date": iso_utc(claim.processed_at) if claim.processed_at else None,
        "payor_id": PAYOR_ID, "provider_id": claim.provider_id,
        "notes": claim.decision_message,
    }
    if claim.status == PayerClaim.Status.APPROVED:
        share = (claim.amount * PATIENT_SHARE).quantize(Decimal("0.01"))
        out.update(expected_payment=_number(claim.amount - share, strict),
                   patient_responsibility=_number(share, strict))
    elif claim.status == PayerClaim.Status.UNDER_REVIEW:
        out.update(review_reason=claim.review_reason, estimated_review_time="24-48 hours",
                   reviewer_contact="claims@payor.com")
    else:
        out["rejection_reason"] = claim.decision_message
    return out


def _create(data: dict[str, Any], provider_id: str, request: HttpRequest) -> PayerClaim:
    now = timezone.now()
    reason = exclusion(str(data["diagnosis_code"]).strip(),
                       str(data.get("procedure_code") or "").strip())
    fields: dict[str, Any] = dict(
        provider_id=provider_id, payload=data, amount=Decimal(data["amount"]), submitted_at=now)
    if reason:
        fields.update(status=PayerClaim.Status.UNDER_REVIEW, coverage_message=reason,
                      review_reason="Procedure not covered under patient's current plan",
                      review_due_at=now + timedelta(seconds=knob("review_delay", request)))
    else:
        fields.update(status=PayerClaim.Status.APPROVED, coverage_validated=True,
                      coverage_message="Coverage validated successfully", auto_approved=True,
                      processed_at=now,
                      decision_message="Auto-approved based on policy coverage")
    for _ in range(5):  # the short random suffix may collide; try another
        claim_id = f"CLM-{now:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"
        try:
            with transaction.atomic():
                return PayerClaim.objects.create(claim_id=claim_id, **fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique claim id")


@service_endpoint("payer", "claims")
@require_POST
def submit_claim(request: HttpRequest) -> HttpResponse:
    """POST /api/claims/ (guide: "Sending Claims to Payor")."""
    started = time.monotonic()
    bad_key = _api_key_problem(request)
    if bad_key:
        return bad_key
    data = _parse(request)
    if isinstance(data, JsonResponse):
        return data
    insurance_id = str(data["insurance_id"]).strip()
    if not is_enrolled(insurance_id):
        return problem(404, f"Insurance ID {insurance_id} not found or not covered by this "
                            "payor", "INSURANCE_NOT_FOUND",
                       ["Verify insurance ID format", "Check if patient is enrolled with this "
                        "payor", "Contact payor customer service"])
    provider_id = request.headers.get("X-Provider-Id", "") or str(data.get("provider_id") or "")
    claim = _create(data, provider_id, request)
    if claim.status == PayerClaim.Status.UNDER_REVIEW:
        ensure_worker()
        message = "Claim submitted for manual review"
    else:
        message = "Claim submitted successfully"
        if queue_payment(claim):
            ensure_worker()
    fault = knob("claim_fault", request)
    if fault != "none":
        _lose_answer(request, fault)
    strict = knob("profile", request) == "strict"
    body: dict[str, Any] = {"success": True, "message": message,
                            "claim": claim_json(claim, strict),
                            "status": claim.status, "auto_approved": claim.auto_approved}
    if claim.auto_approved:
        body["processing_time_ms"] = int((time.monotonic() - started) * 1000)
    return JsonResponse(body, status=201)


@service_endpoint("payer", "claims/detail")
@require_GET
def claim_detail(request: HttpRequest, claim_id: str) -> HttpResponse:
    """GET /api/claims/{claim_id}/ (guide: polling). A review whose delay has passed is
    settled here too, so polling works with no webhook registered."""
    bad_key = _api_key_problem(request)
    if bad_key:
        return bad_key
    claim = PayerClaim.objects.filter(claim_id=claim_id).first()
    if claim is None:
        return problem(404, f"Claim {claim_id} not found", "CLAIM_NOT_FOUND",
                       ["Check the claim id returned when the claim was submitted"])
    if settle_claim(claim):
        # The event is sent by the worker, never inline: a receiver in this same process
        # must not wait on the request that is sending to it.
        ensure_worker()
    strict = knob("profile", request) == "strict"
    return JsonResponse({"success": True, "claim": claim_json(claim, strict)})


def _lose_answer(request: HttpRequest, fault: str) -> None:
    """The claim is stored (committed); now lose the answer: hold it past the client's read
    timeout (timeout), or close the connection without a word (drop)."""
    if fault == "drop":
        sock = _client_socket(request)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection dropped
            return
    time.sleep(knob("hang_seconds", request))


def _client_socket(request: HttpRequest) -> socket.socket | None:
    """The connection's socket under the development and live-test servers (wsgiref): the
    request stream, or the buffered reader inside Django's LimitedStream; None elsewhere."""
    stream = request.META.get("wsgi.input")
    reader = getattr(getattr(stream, "_read", None), "__self__", stream)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


@service_endpoint("payer", "webhooks/register")
@require_POST
def register(request: HttpRequest) -> HttpResponse:
    """POST /api/webhooks/register: {provider_id, webhook_url, secret_key}."""
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return problem(400, "The body must be a JSON object", "INVALID_JSON", [])
    missing = [f for f in ("provider_id", "webhook_url", "secret_key") if not data.get(f)]
    if missing:
        return problem(400, f"Missing required fields: {', '.join(missing)}", "MISSING_FIELDS",
                       [f"Provide {f}" for f in missing])
    if not re.match(r"^https?://", str(data["webhook_url"])):
        return problem(400, "webhook_url must be an http(s) URL", "INVALID_URL", [])
    hook = register_webhook(str(data["provider_id"]), str(data["webhook_url"]),
                            str(data["secret_key"]), active=bool(data.get("active", True)))
    return JsonResponse({"success": True, "provider_id": hook.provider_id,
                         "webhook_url": hook.webhook_url, "active": hook.active,
                         "events": ["claim_status_update"]}, status=201)


def register_webhook(provider_id: str, url: str, secret: str, active: bool = True
                     ) -> PayerWebhook:
    """Register (or replace) where claim_status_update events for a provider go."""
    hook, _ = PayerWebhook.objects.update_or_create(
        provider_id=provider_id, defaults={"webhook_url": url, "secret": secret,
                                           "active": active})
    return hook


def send_due_now(claim_id: str) -> int:
    """Settle and deliver one claim's due webhooks synchronously (tests, demo scripts)."""
    claim = PayerClaim.objects.get(claim_id=claim_id)
    settle_claim(claim)
    return deliver_due_webhooks(claim)
