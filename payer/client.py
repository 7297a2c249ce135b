"""The payer claims API (HCMS), payer-claims-api-integration-guide.md.

Headers (X-API-Key, X-Provider-ID), timeouts and error classes come from revcycle.api;
this module knows the paths and reads the answers into `ClaimAnswer`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from revcycle import api, errors, parse
from revcycle.models import Connection

STATUSES = ("approved", "under_review", "rejected", "paid")


@dataclass
class ClaimAnswer:
    claim_id: str
    status: str
    message: str = ""
    coverage_message: str = ""
    review_reason: str = ""
    estimated_review_time: str = ""
    reviewer_contact: str = ""
    rejection_reason: str = ""
    expected_payment: Decimal | None = None
    patient_responsibility: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    http_status: int | None = None


def amount(value: Any) -> Decimal | None:
    # Payer claim amounts are DecimalField(max_digits=12, decimal_places=2).
    return parse.amount(value)


def day(value: Any) -> date | None:
    return parse.day(value)


def _text(value: Any, limit: int = 500) -> str:
    return parse.text(value, limit)


def parse_answer(data: Any, http_status: int | None = None) -> ClaimAnswer:
    """A 201 submit answer or a GET answer: both carry `claim` (guide: "Immediate Response")."""
    if not isinstance(data, dict):
        raise errors.BadResponse("The payer's answer was not a JSON object.")
    claim = data.get("claim") if isinstance(data.get("claim"), dict) else {}
    status = str(claim.get("status") or data.get("status") or "").strip().lower()
    claim_id = _text(claim.get("claim_id"), 100)
    if status not in STATUSES or not claim_id:
        raise errors.BadResponse(
            f"The payer's answer had no claim id or an unknown status ({status or 'none'}).")
    return ClaimAnswer(
        claim_id=claim_id, status=status,
        message=_text(data.get("message") or claim.get("notes")),
        coverage_message=_text(claim.get("coverage_message")),
        review_reason=_text(claim.get("review_reason")),
        estimated_review_time=_text(claim.get("estimated_review_time"), 100),
        reviewer_contact=_text(claim.get("reviewer_contact"), 200),
        rejection_reason=_text(claim.get("rejection_reason")),
        expected_payment=amount(claim.get("expected_payment")),
        patient_responsibility=amount(claim.get("patient_responsibility")),
        raw=data, http_status=http_status,
    )


def submit_claim(connection: Connection, body: dict[str, Any], *,
                 ticket_id: int | None = None) -> ClaimAnswer:
    """POST /claims/ ("Sending Claims to Payor"). Never retried here: a POST that timed out
    raises UnknownOutcome, and the caller decides."""
    response = api.call(connection, "POST", "claims/", json=body, ticket_id=ticket_id)
    return parse_answer(response.data, response.status)


def get_claim(connection: Connection, claim_id: str, *,
              ticket_id: int | None = None) -> ClaimAnswer:
    """GET /claims/{claim_id}/ ("Polling for Status Updates")."""
    response = api.call(connection, "GET", f"claims/{claim_id}/", ticket_id=ticket_id)
    return parse_answer(response.data, response.status)


def error_details(exc: errors.ApiError) -> tuple[str, list[str]]:
    """The payer's `error_code` and `suggestions` from a 400/404 body ("Error Response")."""
    body = exc.body if isinstance(exc.body, dict) else {}
    suggestions = body.get("suggestions")
    if not isinstance(suggestions, list):
        suggestions = []
    return _text(body.get("error_code"), 100), [_text(s, 300) for s in suggestions][:10]
