"""Integrex claim status (claim-info, API v2): send the request, poll for the answer, read
it into ClaimStatusResult and ServiceLine rows.

The engine (revcycle/engine.py) runs `submit` and `poll`; everything HTTP goes through
revcycle.api.call, which adds the token, the env header, timeouts and the rate limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse

from claims.outcomes import ERROR, NOT_FOUND, OUTCOME_ADVICE, OUTCOME_LABELS, plain_outcome
from revcycle import engine, errors, parse, prepared, services
from revcycle.api import call
from revcycle.csvio import LenientIndex, lenient_get
from revcycle.http import server_message
from revcycle.models import Connection, Ticket

KIND = "claim_status"
PATH = "claim-info"


# The client: one function per endpoint ---------------------------------------------


def post_claim_request(connection: Connection, body: dict[str, Any],
                       ticket_id: int | None = None) -> str:
    """[POST] Claim Request: returns the request id to poll with."""
    response = call(connection, "POST", PATH, json=body, ticket_id=ticket_id)
    data = response.data
    remote_id = lenient_get(data, "id", "ticketId", "requestId") if isinstance(data, dict) else ""
    if not remote_id:
        raise errors.BadResponse("Integrex took the claim status request but sent no id.",
                                 status=response.status, body=data)
    return str(remote_id)


def get_claim_response(connection: Connection, remote_id: str,
                       ticket_id: int | None = None) -> tuple[int, Any, float | None]:
    """[GET] Claim Request: (HTTP status, body, Retry-After). 202 means still working.

    The id goes both as a query parameter (the table) and in the JSON body (the Postman
    walkthrough): docs/integrex.md, "Quirks we tolerate"."""
    response = call(connection, "GET", PATH, params={"id": remote_id}, json={"id": remote_id},
                    ticket_id=ticket_id)
    return response.status, response.data, response.retry_after


# Reading the answer -------------------------------------------------------------------


def _text(data: dict[str, Any], *names: str) -> str:
    return parse.text(lenient_get(data, *names, default=None))


def _date(data: dict[str, Any], *names: str) -> date | None:
    return parse.day(lenient_get(data, *names, default=None))


def _amount(data: dict[str, Any], *names: str, max_digits: int = 14) -> Decimal | None:
    # ClaimStatusResult and ServiceLine amounts are DecimalField(max_digits=14).
    return parse.amount(lenient_get(data, *names, default=None), max_digits=max_digits)


def _int(data: dict[str, Any], *names: str) -> int | None:
    return parse.integer(lenient_get(data, *names, default=None))


@dataclass
class Line:
    svc_line: int | None
    procedure_qualifier: str
    procedure_code: str
    revenue_code: str
    units: Decimal | None
    charge_amount: Decimal | None
    payment_amount: Decimal | None
    allowed_amount: Decimal | None
    coinsurance_amount: Decimal | None
    copay_amount: Decimal | None
    noncovered_amount: Decimal | None
    category_code: str
    status_code: str
    category_description: str
    status_description: str
    reasons: list[tuple[str, str]]  # (code, payer's text) for reasonSourceCd1..3


@dataclass
class ClaimInfo:
    """The claim-level fields (from the first line) and every service line."""

    claim: dict[str, Any]
    lines: list[Line] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if not self.lines and not self.claim.get("category_code"):
            return NOT_FOUND
        return plain_outcome(self.claim.get("category_code"), self.claim.get("status_code"),
                             self.claim.get("payment_amount"))


CLAIM_FIELDS: dict[str, tuple[str, ...]] = {
    "internal_account_number": ("internalAccountNumber", "trackingId1"),
    "internal_account_number2": ("internalAccountNumber2", "trackingId2"),
    "patient_first_name": ("patientFirstName",),
    "patient_last_name": ("patientLastName",),
    "sub_id": ("subID", "subscriberId", "memberId"),
    "billing_entity_name": ("billingEntityName",),
    "payer_id": ("payerID",),
    "payer_contact_name": ("payerContactName",),
    "payer_contact_phone": ("payerContactPhone",),
    "payer_claim_number": ("payerClmNo", "payerClaimNumber"),
    "check_number": ("checkNumber", "eftNumber"),
    "check_status": ("checkStatus",),
    "category_code": ("categoryCode",),
    "status_code": ("statusCode",),
    "category_description": ("categoryDescription",),
    "status_description": ("statusDescription",),
    # The spec's table spells it authorizationCaseld (an OCR'd capital I).
    "authorization_case_id": ("authorizationCaseId", "authorizationCaseld"),
    "authorization_description": ("authorizationDescription",),
    "integrex_id": ("integrexId",),
}
CLAIM_DATES: dict[str, tuple[str, ...]] = {
    "response_date": ("responseDate",),
    "date_of_service": ("dateOfService",),
    "claim_receipt_date": ("claimReceiptDate",),
    "adjudication_date": ("adjudicationDate",),
    "check_date": ("checkDate",),
    "date_check_cashed": ("dateCheckCashed",),
}
CLAIM_AMOUNTS: dict[str, tuple[str, ...]] = {
    "charge_amount": ("chargeAmt",),
    "payment_amount": ("paymentAmt",),
}


def _claim_level(item: dict[str, Any]) -> dict[str, Any]:
    claim: dict[str, Any] = {name: _text(item, *keys) for name, keys in CLAIM_FIELDS.items()}
    claim.update({name: _date(item, *keys) for name, keys in CLAIM_DATES.items()})
    claim.update({name: _amount(item, *keys) for name, keys in CLAIM_AMOUNTS.items()})
    cashed = lenient_get(item, "dateCheckCashed", default="")
    claim["is_eft"] = isinstance(cashed, str) and cashed.strip().lower() == "null"
    return claim


def _line(item: dict[str, Any]) -> Line:
    return Line(
        svc_line=_int(item, "svcLine"),
        procedure_qualifier=_text(item, "procedureCdQual"),
        procedure_code=_text(item, "procedureCd"),
        revenue_code=_text(item, "revenueCd"),
        units=_amount(item, "svcLnQty", max_digits=10),
        charge_amount=_amount(item, "chargeAmt"),
        payment_amount=_amount(item, "paymentAmt"),
        allowed_amount=_amount(item, "allowedAmount"),
        coinsurance_amount=_amount(item, "coInsuranceAmount"),
        copay_amount=_amount(item, "coPaymentAmount"),
        noncovered_amount=_amount(item, "nonCoveredAmount"),
        category_code=_text(item, "categoryCode"),
        status_code=_text(item, "statusCode"),
        category_description=_text(item, "categoryDescription"),
        status_description=_text(item, "statusDescription"),
        reasons=[(_text(item, f"reasonSourceCd{n}"), _text(item, f"reasonSourceCdDescTxt{n}"))
                 for n in (1, 2, 3)],
    )


def _has_line_data(item: dict[str, Any]) -> bool:
    return any(_text(item, key) for key in ("svcLine", "procedureCd", "revenueCd"))


def parse_claim_info(data: Any) -> ClaimInfo:
    """Read a claim-info answer: a JSON object or a list of service-line objects."""
    if isinstance(data, dict):
        # Some answers wrap the lines: {"lines": [...]} / {"data": [...]}.
        for key in ("lines", "serviceLines", "data", "results"):
            wrapped = lenient_get(data, key, default=None)
            if isinstance(wrapped, list):
                data = wrapped
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise errors.BadResponse("Integrex answered with something that is not a claim status.")
    # Each line's keys normalised once, not once per field read from it.
    items = [LenientIndex.of(item) for item in data if isinstance(item, dict)]
    if not items:
        return ClaimInfo(claim={})
    return ClaimInfo(claim=_claim_level(items[0]),
                     lines=[_line(item) for item in items if _has_line_data(item)])


def store(ticket: Ticket, info: ClaimInfo) -> None:
    """Replace the ticket's stored result (a step can run twice; "check again" reruns)."""
    from claims.models import ClaimStatusResult

    # savepoint=False: inside the engine's Done transaction a savepoint costs two
    # statements and buys nothing (a failure rolls the whole step back).
    with transaction.atomic(savepoint=False):
        # Results exist only if an earlier step stored them, and that step saved its
        # answer on the ticket in the same transaction: a ticket read without one (its
        # first answer; "check again" keeps the last) skips the delete, whose collector
        # reads the results first, one round trip of every first answer's few.
        if ticket.response is not None:
            ClaimStatusResult.objects.filter(ticket=ticket).delete()
        found = rows(ticket, info)
        if found is not None:
            found()


def rows(ticket: Ticket, info: ClaimInfo) -> prepared.Rows | None:
    """The result and its service lines as rows to insert (revcycle.prepared.Rows: one
    prepared INSERT each, or, for a first answer on PostgreSQL, part of the engine's
    statement); None when the answer holds no claim."""
    from claims.models import ClaimStatusResult, ServiceLine

    if not info.claim:
        return None
    return prepared.Rows(ClaimStatusResult(ticket=ticket, **info.claim), [
        ServiceLine(
            position=i, svc_line=line.svc_line,
            procedure_qualifier=line.procedure_qualifier[:10],
            procedure_code=line.procedure_code[:20], revenue_code=line.revenue_code[:10],
            units=line.units, charge_amount=line.charge_amount,
            payment_amount=line.payment_amount, allowed_amount=line.allowed_amount,
            coinsurance_amount=line.coinsurance_amount, copay_amount=line.copay_amount,
            noncovered_amount=line.noncovered_amount, category_code=line.category_code[:10],
            status_code=line.status_code[:10],
            category_description=line.category_description,
            status_description=line.status_description,
            reason_code1=line.reasons[0][0][:20], reason_text1=line.reasons[0][1],
            reason_code2=line.reasons[1][0][:20], reason_text2=line.reasons[1][1],
            reason_code3=line.reasons[2][0][:20], reason_text3=line.reasons[2][1],
        )
        for i, line in enumerate(info.lines)
    ], link="result")


def _looks_like_error(data: Any) -> str:
    """An answer with a message and no claim status in it: the message, else ""."""
    if not isinstance(data, dict):
        return ""
    if any(_text(data, key) for key in ("categoryCode", "statusCode", "svcLine", "payerClmNo")):
        return ""
    return server_message(data, "") if any(
        _text(data, key) for key in ("error", "message", "errorMessage")) else ""


# Engine steps -------------------------------------------------------------------------


def submit(ticket: Ticket) -> engine.Step:
    # Claim status is a read: sending it again after a crash (attempts > 1) creates
    # nothing that must not exist twice, so there is nothing to look up first.
    remote_id = post_claim_request(ticket.connection, ticket.request, ticket_id=ticket.pk)
    return engine.Submitted(remote_id=remote_id, http_status=200)


def poll(ticket: Ticket) -> engine.Step:
    status, data, retry_after = get_claim_response(ticket.connection, ticket.remote_id,
                                                   ticket_id=ticket.pk)
    if status == 202:
        return engine.Pending(http_status=202, retry_after=retry_after)
    message = _looks_like_error(data)
    if message:
        return engine.Failed(f"Integrex: {message}", http_status=status, outcome=ERROR)
    info = parse_claim_info(data)
    # A first answer has no earlier results to replace: its rows, only to insert, may ride
    # on the engine's own statement (engine.Done).
    first = rows(ticket, info) if ticket.response is None else None
    return engine.Done(outcome=info.outcome, response=data, http_status=status,
                       store=first or (lambda: store(ticket, info)))


# Registered from ClaimsConfig.ready().
ENGINE_KIND = engine.Kind(name=KIND, label="Claim status", service="integrex",
                          submit=submit, poll=poll, default_interval=15, idempotent=True)


def summary(request: dict[str, Any]) -> services.Summary:
    return services.Summary(
        amount=parse.amount(lenient_get(request, "totalCharges", default=None)),
        service_date=parse.day(lenient_get(request, "admitDate", default=None)),
    )


# Registered from ClaimsConfig.ready(): what lists and the follow-up pages show.
TICKET_KIND = services.TicketKind(
    name=KIND, service="integrex", label="Claim status", summary=summary,
    detail_url=lambda ticket: reverse("claims:status_detail", args=[ticket.pk]),
    outcome_labels=OUTCOME_LABELS,
    outcome_advice=OUTCOME_ADVICE, default_advice=OUTCOME_ADVICE[ERROR])
