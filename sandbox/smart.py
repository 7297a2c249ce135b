"""The Smart (SmartLink) stand-in: oauth/token, visit sessions, member and benefits,
co-pay, claims, claim status and late diagnoses (smart-api-endpoints.txt), plus the desk
page where an admin opens a session as Smart staff would."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import time
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import demo_data
from sandbox.credentials import smart_client, smart_user
from sandbox.knobs import knob, service_endpoint
from sandbox.models import SandboxToken, SmartClaim, SmartSession
from sandbox.scenarios import money
from sandbox.tokens import basic_credentials, issue_token, token_lifetime, token_problem

SERVICE = SandboxToken.Service.SMART
EXPIRED_MESSAGE = "session expired: ask Smart to open a new session"


def error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def strict(request: HttpRequest) -> bool:
    """The strict profile: Smart as a Spring Boot service answers in the document's looser
    shapes (PITFALLS.md, Spring Boot)."""
    return knob("profile", request) == "strict"


def refuse(request: HttpRequest, message: str, status: int = 400, **extra: Any) -> JsonResponse:
    """An API error: ours ({"error": text}), or under the strict profile Spring's default
    body, whose `error` is only the reason phrase and whose text is in `message`."""
    if not strict(request):
        return error(message, status, **extra)
    return JsonResponse({"timestamp": timezone.now().isoformat(timespec="milliseconds"),
                         "status": status, "error": HTTPStatus(status).phrase,
                         "message": message, "path": request.path}, status=status)


def session_json(request: HttpRequest, session: SmartSession) -> dict[str, Any]:
    if not strict(request):
        return session.as_json()
    # The document's words: sessionStatus (its query parameter), the id as `id`, the
    # opening time as epoch milliseconds and no expiry (it says only "after 24 hours").
    return {"id": str(session.pk), "patientNumber": session.patient_number,
            "sessionStatus": session.current_status, "visitNumber": session.visit_number or None,
            "sessionStartDate": int(session.opened_at.timestamp() * 1000), "remarks": None}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---- sessions (also used by tests and demo seeding) --------------------------------

def open_session(patient_number: str, opened_at: Any = None) -> SmartSession:
    """Open a PENDING session for a patient file number, as Smart staff do."""
    return SmartSession.objects.create(patient_number=str(patient_number).strip(),
                                       opened_at=opened_at or timezone.now())


def live_pending_session(patient_number: str) -> SmartSession | None:
    cutoff = timezone.now() - timedelta(hours=24)
    return (SmartSession.objects.filter(patient_number=patient_number,
                                        status=SmartSession.Status.PENDING,
                                        opened_at__gt=cutoff).first())


# ---- member data, deterministic from the patient number -----------------------------

BENEFITS = [("OUTPATIENT", 100000), ("INPATIENT", 500000), ("DENTAL", 20000),
            ("OPTICAL", 15000)]
SCHEMES = [("AON MINET CORPORATE SCHEME", "JUBILEE INSURANCE"),
           ("KCB STAFF MEDICAL SCHEME", "BRITAM"), ("SAFARICOM FAMILY COVER", "CIC INSURANCE")]


def _rng(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("|".join(parts).encode()).hexdigest())


def member_for(patient_number: str) -> dict[str, Any]:
    """Biodata and benefits; demo patients keep their names, others get made-up ones."""
    rng = _rng("member", patient_number)
    demo = demo_data.by_smart_patient_number(patient_number)
    scheme, insurer = rng.choice(SCHEMES)
    digits = int("".join(ch for ch in patient_number if ch.isdigit()) or "0")
    base_id = 93000 + (digits % 97) * 4 + 1
    benefits = []
    for i, (name, limit) in enumerate(BENEFITS):
        used = Decimal(rng.randint(0, limit // 2))
        benefits.append({"benefitId": base_id + i, "name": name,
                         "limit": float(limit), "balance": float(limit - used),
                         "currency": "KES"})
    return {
        "patientNumber": patient_number,
        "memberNumber": demo["smart_member_number"] if demo else f"SMT{digits % 10**6:06d}",
        "firstName": demo["first_name"] if demo else rng.choice(["AMINA", "BRIAN", "WANJIRU"]),
        "lastName": demo["last_name"] if demo else rng.choice(["OTIENO", "KAMAU", "MWANGI"]),
        "dateOfBirth": demo["dob"] if demo else f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1"
                                                f"{rng.randint(0, 9)}",
        "gender": demo["gender"] if demo else rng.choice(["F", "M"]),
        "scheme": scheme, "insurer": insurer,
        "benefits": benefits,
    }


def strict_member(data: dict[str, Any]) -> dict[str, Any]:
    """The member in the document's words: `payerName`, `surname`, each benefit's limit as
    `amount`, balances and ids as strings, and fields revcycle does not use, some null."""
    return {
        "memberNumber": data["memberNumber"], "patientNumber": data["patientNumber"],
        "firstName": data["firstName"], "surname": data["lastName"], "middleName": None,
        "dob": data["dateOfBirth"], "gender": data["gender"], "schemeName": data["scheme"],
        "payerName": data["insurer"], "policyNumber": None, "phoneNumber": None,
        "benefits": [{"benefitId": str(b["benefitId"]), "benefitName": b["name"],
                      "amount": money(Decimal(str(b["limit"]))),
                      "balance": money(Decimal(str(b["balance"]))), "currency": b["currency"],
                      "subLimit": None} for b in data["benefits"]],
    }


# ---- oauth -------------------------------------------------------------------------

def _token_json(token: SandboxToken, lifetime: int) -> dict[str, Any]:
    return {"access_token": token.access_token, "token_type": "bearer",
            "refresh_token": token.refresh_token, "expires_in": lifetime,
            "scope": "read write", "iat": int(token.created_at.timestamp()),
            "client_id": token.client_id}


@service_endpoint("smart", "oauth/token")
@require_POST
def oauth_token(request: HttpRequest) -> HttpResponse:
    """POST oauth/token: password grant, or refresh_token grant (rotating, single use)."""
    creds = basic_credentials(request) or (request.POST.get("client_id", ""),
                                           request.POST.get("client_secret", ""))
    client_id, client_secret = smart_client()
    if not (_same(creds[0], client_id) and _same(creds[1], client_secret)):
        return error("unauthorized", 401, error_description="Bad client credentials")
    grant = request.POST.get("grant_type", "")
    lifetime = token_lifetime(SERVICE, request)
    if grant == "password":
        username, password = smart_user()
        if not (_same(request.POST.get("username", ""), username)
                and _same(request.POST.get("password", ""), password)):
            return error("unauthorized", 401, error_description="Bad credentials")
    elif grant == "refresh_token":
        old = request.POST.get("refresh_token", "")
        spent = old and SandboxToken.objects.filter(
            service=SERVICE, refresh_token=old, refresh_used=False, client_id=creds[0]
        ).update(refresh_used=True)
        if not spent:
            return error("invalid_grant", 400,
                         error_description="Invalid refresh token (unknown or already used)")
    else:
        return error("unsupported_grant_type", 400,
                     error_description="grant_type must be password or refresh_token")
    token = issue_token(SERVICE, creds[0], lifetime, with_refresh=True)
    return JsonResponse(_token_json(token, lifetime))


# ---- api/ ----------------------------------------------------------------------------

def _session_or_error(request: HttpRequest, session_id: str, patient_number: str | None = None
                      ) -> SmartSession | JsonResponse:
    try:
        session = SmartSession.objects.filter(pk=int(session_id)).first()
    except (TypeError, ValueError):
        return refuse(request, f"sessionId {session_id!r} is not a session id")
    if session is None or (patient_number and session.patient_number != patient_number):
        return refuse(request, f"no session {session_id} for this patient", 404)
    if session.current_status == SmartSession.Status.EXPIRED:
        if strict(request):  # a plain 400 that never says "expired"
            return refuse(request, f"Session {session.pk} is not valid", 400)
        return error(EXPIRED_MESSAGE, 410, sessionId=session.pk)
    return session


@service_endpoint("smart", "api/visit")
@require_GET
def visits(request: HttpRequest) -> HttpResponse:
    """GET api/visit?patientNumber=&sessionStatus=PENDING: sessions opened for a patient."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    patient_number = request.GET.get("patientNumber", "").strip()
    if not patient_number:
        return refuse(request, "patientNumber is required")
    wanted = request.GET.get("sessionStatus", "").strip().upper()
    sessions = [s for s in SmartSession.objects.filter(patient_number=patient_number)
                if not wanted or s.current_status == wanted]
    return JsonResponse([session_json(request, s) for s in sessions], safe=False)


@service_endpoint("smart", "api/visit/visit-number")
@require_http_methods(["GET", "POST", "PUT"])
def merge_visit(request: HttpRequest, session_id: str, visit_number: str) -> HttpResponse:
    """api/visit/{sessionId}/visit-number/{visitNumber}: PENDING -> ACTIVE, once."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    found = _session_or_error(request, session_id)
    if isinstance(found, JsonResponse):
        return found
    now = timezone.now()
    # Conditional update, so two concurrent merges cannot both succeed.
    merged = SmartSession.objects.filter(pk=found.pk, status=SmartSession.Status.PENDING).update(
        status=SmartSession.Status.ACTIVE, visit_number=visit_number, merged_at=now)
    found.refresh_from_db()
    if not merged:
        if strict(request):  # a reason phrase and nothing said about which conflict
            return refuse(request, "", 409)
        return error(f"session {found.pk} is already merged with visit number "
                     f"{found.visit_number}; a session can be merged only once", 409,
                     sessionId=found.pk, visitNumber=found.visit_number)
    return JsonResponse({**session_json(request, found), "message": "session activated"})


@service_endpoint("smart", "api/member")
@require_GET
def member(request: HttpRequest) -> HttpResponse:
    """GET api/member?patientNumber=&sessionId=: biodata and benefits with balances."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    patient_number = request.GET.get("patientNumber", "").strip()
    session_id = request.GET.get("sessionId", "").strip()
    if not patient_number or not session_id:
        return refuse(request, "patientNumber and sessionId are required")
    found = _session_or_error(request, session_id, patient_number)
    if isinstance(found, JsonResponse):
        return found
    data = member_for(patient_number)
    if strict(request):
        data = strict_member(data)
    return JsonResponse({**data, "sessionId": found.pk})


@service_endpoint("smart", "api/copayment")
@require_GET
def copayment(request: HttpRequest) -> HttpResponse:
    """GET api/copayment?benefitId=&providerKey=&visitNumber=: the co-pay on a benefit."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    params = {k: request.GET.get(k, "").strip() for k in ("benefitId", "providerKey",
                                                          "visitNumber")}
    missing = [k for k, v in params.items() if not v]
    if missing:
        return refuse(request, f"missing required parameter(s): {', '.join(missing)}")
    rng = _rng("copay", params["benefitId"])
    if rng.random() < 0.5:
        copay = {"copayType": "FIXED", "copayAmount": float(rng.choice([200, 500, 1000]))}
    else:
        copay = {"copayType": "PERCENTAGE", "copayAmount": float(rng.choice([5, 10, 20]))}
    if strict(request):
        copay["copayAmount"] = money(Decimal(str(copay["copayAmount"])))
    return JsonResponse({**params, **copay, "currency": "KES"})


CLAIM_FIELDS = ["invoiceNumber", "visitNumber", "benefitId", "memberNumber", "lines",
                "totalAmount"]
LINE_FIELDS = ["code", "description", "quantity", "unitPrice"]


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def claim_problem(body: dict[str, Any]) -> str | None:
    """The first problem with an invoice body, or None."""
    missing = [f for f in CLAIM_FIELDS if body.get(f) in (None, "", [])]
    if missing:
        return f"missing required field(s): {', '.join(missing)}"
    if not isinstance(body["lines"], list):
        return "lines must be a list of {code, description, quantity, unitPrice}"
    total = Decimal(0)
    for i, line in enumerate(body["lines"], start=1):
        if not isinstance(line, dict):
            return f"line {i} must be an object"
        absent = [f for f in LINE_FIELDS if line.get(f) in (None, "")]
        if absent:
            return f"line {i} is missing {', '.join(absent)}"
        qty, price = _decimal(line["quantity"]), _decimal(line["unitPrice"])
        if qty is None or price is None or qty <= 0 or price < 0:
            return f"line {i}: quantity and unitPrice must be positive numbers"
        total += qty * price
    diagnoses = body.get("diagnoses") or []
    if not isinstance(diagnoses, list) or any(
            not isinstance(d, dict) or not d.get("code") for d in diagnoses):
        return "diagnoses must be a list of {code, description}"
    stated = _decimal(body["totalAmount"])
    if stated is None or money(stated) != money(total):
        return (f"totalAmount {body['totalAmount']} does not equal the sum of the lines "
                f"{money(total)}")
    return None


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@service_endpoint("smart", "api/claims")
@require_POST
def claims(request: HttpRequest) -> HttpResponse:
    """POST api/claims?patientNumber=&sesionId= (or sessionId): post an invoice."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    patient_number = request.GET.get("patientNumber", "").strip()
    session_id = (request.GET.get("sesionId") or request.GET.get("sessionId") or "").strip()
    if not patient_number or not session_id:
        return refuse(request, "patientNumber and sesionId (or sessionId) are required")
    body = _json_body(request)
    if body is None:
        return refuse(request, "the body must be a JSON object")
    invalid = claim_problem(body)
    if invalid:
        return refuse(request, invalid)
    found = _session_or_error(request, session_id, patient_number)
    if isinstance(found, JsonResponse):
        return found
    if found.current_status != SmartSession.Status.ACTIVE:
        return refuse(request, f"session {found.pk} is not active: merge it with the visit number "
                     "first (api/visit/{sessionId}/visit-number/{visitNumber})", 409)
    return _store_claim(request, body, found)


def _store_claim(request: HttpRequest, body: dict[str, Any], session: SmartSession
                 ) -> HttpResponse:
    member_data = member_for(session.patient_number)
    if str(body["memberNumber"]) != member_data["memberNumber"]:
        return refuse(request, f"memberNumber {body['memberNumber']} does not belong to "
                      f"patient {session.patient_number}")
    if str(body["benefitId"]) not in {str(b["benefitId"]) for b in member_data["benefits"]}:
        return refuse(request, f"benefitId {body['benefitId']} is not a benefit of this member")
    if str(body["visitNumber"]) != session.visit_number:
        return refuse(request, f"visitNumber {body['visitNumber']} is not the visit number "
                      f"merged with session {session.pk} ({session.visit_number})")
    now = timezone.now()
    invoice = str(body["invoiceNumber"]).strip()
    try:
        # The unique invoice number decides, so two concurrent posts cannot both pass.
        with transaction.atomic():
            claim = SmartClaim.objects.create(
                invoice_number=invoice, claim_id=f"SC{uuid.uuid4().hex[:10].upper()}",
                session=session, patient_number=session.patient_number,
                member_number=str(body["memberNumber"]), visit_number=str(body["visitNumber"]),
                benefit_id=str(body["benefitId"]), total_amount=_decimal(body["totalAmount"]),
                payload=body, created_at=now,
                billed_at=now + timedelta(seconds=knob("billed_after", request)),
            )
    except IntegrityError:
        if strict(request):
            return refuse(request, "Could not save the record", 409)
        return error("duplicate invoice", 409, invoiceNumber=invoice)
    fault = knob("claim_fault", request)
    if fault != "none":
        _fail_after_storing(request, fault)
    return JsonResponse(_claim_json(claim, strict(request)), status=201)


def _fail_after_storing(request: HttpRequest, fault: str) -> None:
    """The claim is stored (committed); now lose the answer as a real network can: hold it
    past the client's read timeout, or close the connection without a word."""
    if fault == "drop":
        sock = _client_socket(request)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection dropped
            return
    time.sleep(knob("hang_seconds", request))


def _client_socket(request: HttpRequest) -> socket.socket | None:
    """The connection's socket under the development and live-test servers (wsgiref),
    found through the request body's stream (Django's server wraps the socket's file in a
    LimitedStream, whose bound read method leads back to it); None elsewhere."""
    stream: Any = request.META.get("wsgi.input")
    for _ in range(3):
        sock = getattr(getattr(stream, "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            return sock
        stream = getattr(getattr(stream, "_read", None), "__self__", None)
    return None


def _claim_json(claim: SmartClaim, as_strings: bool = False) -> dict[str, Any]:
    data = {"claimId": claim.claim_id, "invoiceNumber": claim.invoice_number,
            "memberNumber": claim.member_number, "visitNumber": claim.visit_number,
            "sessionId": claim.session_id, "benefitId": claim.benefit_id,
            "totalAmount": money(claim.total_amount), "status": claim.status,
            "submittedAt": claim.created_at.isoformat()}
    if as_strings:
        data.update(sessionId=str(claim.session_id), totalAmount=str(money(claim.total_amount)),
                    submittedAt=int(claim.created_at.timestamp() * 1000), remarks=None)
    return data


@service_endpoint("smart", "api/claim-status")
@require_GET
def claim_status(request: HttpRequest) -> HttpResponse:
    """GET api/claim-status?invoiceNumber=&memberNumber=&sessionId=&visitNumber=."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    invoice = request.GET.get("invoiceNumber", "").strip()
    if not invoice:
        return refuse(request, "invoiceNumber is required")
    claim = SmartClaim.objects.filter(invoice_number=invoice).first()
    # The other parameters, when given, must agree with the invoice, as a lookup key would.
    checks = {"memberNumber": "member_number", "visitNumber": "visit_number",
              "sessionId": "session_id"}
    if claim is not None and any(
            request.GET.get(param) and request.GET[param].strip() != str(getattr(claim, attr))
            for param, attr in checks.items()):
        claim = None
    indexing = claim is not None and timezone.now() < claim.created_at + timedelta(
        seconds=knob("index_delay", request))
    if claim is None or indexing:
        return refuse(request, f"no invoice {invoice} for this member and visit", 404)
    return JsonResponse(_claim_json(claim, strict(request)))


@service_endpoint("smart", "api/clinic-record")
@require_POST
def clinic_record(request: HttpRequest) -> HttpResponse:
    """POST api/clinic-record: a diagnosis sent after the patient left."""
    problem = token_problem(request, SERVICE)
    if problem:
        return problem
    body = _json_body(request)
    if body is None:
        return refuse(request, "the body must be a JSON object")
    diagnoses = body.get("diagnoses")
    if not diagnoses and body.get("diagnosisCode"):  # a single diagnosis, flat
        diagnoses = [{"code": body["diagnosisCode"],
                      "description": body.get("diagnosisDescription", "")}]
    if not body.get("invoiceNumber") or not diagnoses:
        return refuse(request, "invoiceNumber and diagnoses [{code, description}] are required")
    if not isinstance(diagnoses, list) or any(
            not isinstance(d, dict) or not d.get("code") for d in diagnoses):
        return refuse(request, "diagnoses must be a list of {code, description}")
    claim = SmartClaim.objects.filter(invoice_number=str(body["invoiceNumber"])).first()
    if claim is None:
        return refuse(request, f"no invoice {body['invoiceNumber']}", 404)
    claim.late_diagnoses = [*claim.late_diagnoses, *diagnoses]
    claim.save(update_fields=["late_diagnoses"])
    return JsonResponse({"invoiceNumber": claim.invoice_number, "status": "Received",
                         "diagnoses": claim.late_diagnoses})


# ---- the desk page (admins only) -----------------------------------------------------

class OpenSessionForm(forms.Form):
    patient_number = forms.RegexField(regex=r"^[A-Za-z0-9-]{1,50}$", label="Patient file number",
                                      error_messages={"invalid": "Letters, digits and dashes."})


@require_http_methods(["GET", "POST"])
def desk(request: HttpRequest) -> HttpResponse:
    """Open PENDING sessions as Smart staff would; revcycle admins (is_staff) only."""
    if not request.user.is_staff:
        raise PermissionDenied("The Smart desk is for admins.")
    form = OpenSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        opened = open_session(form.cleaned_data["patient_number"])
        messages.success(request, f"Opened session {opened.pk} for patient file "
                                  f"{opened.patient_number}: PENDING until "
                                  f"{timezone.localtime(opened.expires_at):%Y-%m-%d %H:%M}.")
        return redirect("sandbox:smart-desk")
    sessions = SmartSession.objects.all()[:50]
    demo = [p["smart_patient_number"] for p in demo_data.DEMO_PATIENTS]
    return render(request, "sandbox/desk.html",
                  {"form": form, "sessions": sessions, "demo_numbers": demo})
