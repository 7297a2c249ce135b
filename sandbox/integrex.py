"""The Integrex Health stand-in: auth, health, claim-info and insurance-discovery
(integrex-quickstart.txt, integrex-claim-status-api-v2.txt,
integrex-insurance-discovery-v2.txt). Answers come from sandbox/scenarios.py."""

from __future__ import annotations

import functools
import hmac
import json
import re
import uuid
from datetime import date, timedelta
from typing import Any

from django.db import connection as db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from revcycle import prepared
from sandbox.credentials import integrex_client
from sandbox.knobs import knob, service_endpoint
from sandbox.models import IntegrexTicket, SandboxToken
from sandbox.scenarios import (
    claim_scenario,  # noqa: F401 - re-exported: tests and demos predict outcomes with it
    claim_status_lines,
    discovery_coverages,
    discovery_scenario,  # noqa: F401 - re-exported, as above
    norm_key,
)
from sandbox.tokens import basic_credentials, issue_token, token_lifetime, token_problem

SERVICE = SandboxToken.Service.INTEGREX

REQUIRED = {
    IntegrexTicket.Kind.CLAIM: ["patientFirstName", "patientLastName", "patientDob",
                                "subscriberId", "billingProviderNpi", "payerId", "admitDate"],
    IntegrexTicket.Kind.DISCOVERY: ["patientFirstName", "patientLastName", "patientDob",
                                    "beginDos"],
}
DATES = {
    IntegrexTicket.Kind.CLAIM: ["patientDob", "subscriberDob", "admitDate"],
    IntegrexTicket.Kind.DISCOVERY: ["patientDob", "subscriberDob", "beginDos", "endDos"],
}
GENDERS = ["patientGender", "subscriberGender"]


def error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@service_endpoint("integrex", "auth")
@require_POST
def auth(request: HttpRequest) -> HttpResponse:
    """POST /auth: client credentials grant, id and secret as HTTP Basic (quickstart, step 2)."""
    creds = basic_credentials(request) or (request.POST.get("client_id", ""),
                                           request.POST.get("client_secret", ""))
    client_id, secret = integrex_client()
    if not (hmac.compare_digest(creds[0].encode(), client_id.encode())
            and hmac.compare_digest(creds[1].encode(), secret.encode())):
        return JsonResponse({"error": "invalid_client",
                             "error_description": "unknown client id or wrong secret"}, status=401)
    if request.POST.get("grant_type") != "client_credentials":
        return JsonResponse({"error": "unsupported_grant_type",
                             "error_description": "grant_type must be client_credentials"},
                            status=400)
    lifetime = token_lifetime(SERVICE, request)
    token = issue_token(SERVICE, creds[0], lifetime)
    return JsonResponse({"access_token": token.access_token, "expires_in": lifetime,
                         "scope": "", "token_type": "bearer"})


@service_endpoint("integrex", "health")
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """The unauthenticated health check (quickstart, step 1; the path is ours)."""
    return JsonResponse({"status": "ok"})


def _guard(request: HttpRequest) -> JsonResponse | None:
    problem = token_problem(request, SERVICE)
    if problem is not None:
        return problem
    env = request.headers.get("env", "").strip().upper()
    if env != "T":
        # Without `env: T` Integrex would answer from production; a test client may not.
        return error(f"authentication error: env {env or '(missing)'} means production, "
                     "which this test client may not reach; send the header env: T", 402)
    return None


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def validation_error(kind: str, body: dict[str, Any]) -> str | None:
    """The first problem with a POST body, worded for the biller, or None."""
    values = {norm_key(k): ("" if v is None else str(v).strip()) for k, v in body.items()}
    missing = [name for name in REQUIRED[kind] if not values.get(norm_key(name))]
    if missing:
        return f"missing required field(s): {', '.join(missing)}"
    for name in DATES[kind]:
        value = values.get(norm_key(name), "")
        if value and not _is_date(value):
            return f"{name} must be a date as yyyy-mm-dd, not {value!r}"
    for name in GENDERS:
        value = values.get(norm_key(name), "")
        if value and value.upper() not in ("F", "M"):
            return f"{name} must be F or M, not {value!r}"
    return None


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _submit(request: HttpRequest, kind: str) -> HttpResponse:
    body = _json_body(request)
    if body is None:
        return error("the body must be a JSON object")
    problem = validation_error(kind, body)
    if problem:
        return error(problem)
    now = timezone.now()
    ticket = IntegrexTicket(kind=kind, request_json=body, created_at=now,
                            ready_at=now + timedelta(seconds=knob("ready_after", request)))
    # One prepared INSERT, without save()'s machinery: every POST makes one (_ticket).
    prepared.insert([ticket])
    return JsonResponse({"id": str(ticket.id)})


def _fetch(request: HttpRequest, kind: str) -> HttpResponse:
    """GET with the id in the query string or, as the Postman walkthrough does, the body."""
    body = _json_body(request) or {}
    ticket_id = request.GET.get("id") or str(body.get("id") or "")
    if not ticket_id:
        return error("missing required field: id (the id the POST returned)")
    try:
        request_id = uuid.UUID(ticket_id)
    except ValueError:
        return error(f"id {ticket_id!r} is not a request id")
    ticket = _ticket(request_id, kind)
    if ticket is None:
        return error(f"no {kind} request with id {ticket_id}")
    if not ticket.is_ready:
        return JsonResponse({"status": "processing"}, status=202)
    response_date = timezone.localdate(ticket.created_at)
    if kind == IntegrexTicket.Kind.CLAIM:
        result = claim_status_lines(ticket.request_json, response_date)
    else:
        result = discovery_coverages(ticket.request_json, response_date)
    return JsonResponse(result, safe=False)


def _ticket(request_id: uuid.UUID, kind: str) -> IntegrexTicket | None:
    """The request by its id, read by a prepared statement: the bench's engines ask for
    every answer once or more, and the ORM's building of this one SELECT was a quarter of
    the stand-in's CPU at the scale bench (docs/performance.md, "Scale in session 9")."""
    pk = IntegrexTicket._meta.pk
    with prepared.cursor() as cursor:
        cursor.execute(_ticket_sql(), [pk.get_db_prep_value(request_id, db), kind])  # type: ignore[union-attr]
        rows = cursor.fetchall()
    return prepared.read_models(IntegrexTicket, rows)[0][0] if rows else None


@functools.cache
def _ticket_sql() -> str:
    quote = db.ops.quote_name
    return (f"SELECT {prepared.columns(IntegrexTicket)} FROM "
            f"{quote(IntegrexTicket._meta.db_table)} WHERE {quote('id')} = %s "
            f"AND {quote('kind')} = %s")


def _ticket_view(request: HttpRequest, kind: str) -> HttpResponse:
    problem = _guard(request)
    if problem is not None:
        return problem
    if request.method == "POST":
        return _submit(request, kind)
    return _fetch(request, kind)


@service_endpoint("integrex", "claim-info")
@require_http_methods(["GET", "POST"])
def claim_info(request: HttpRequest) -> HttpResponse:
    """POST a claim status request, GET its result (claim status API v2)."""
    return _ticket_view(request, IntegrexTicket.Kind.CLAIM)


@service_endpoint("integrex", "insurance-discovery")
@require_http_methods(["GET", "POST"])
def insurance_discovery(request: HttpRequest) -> HttpResponse:
    """POST an insurance discovery request, GET its result (insurance discovery V2)."""
    return _ticket_view(request, IntegrexTicket.Kind.DISCOVERY)
