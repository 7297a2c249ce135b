"""Smart (SmartLink) API: one function per endpoint of smart-api-endpoints.txt.

The token (password grant with refresh), timeouts, retries of idempotent calls and the
error classes all come from revcycle.api.call; answers are read into small typed objects
here, leniently (keys compared without case or punctuation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from revcycle import errors, parse
from revcycle.api import call
from revcycle.csvio import lenient_get
from revcycle.models import Connection

SESSION_HOURS = 24


@dataclass
class RemoteSession:
    session_id: str
    patient_number: str
    status: str
    opened_at: datetime
    expires_at: datetime
    visit_number: str = ""


@dataclass
class Benefit:
    benefit_id: str
    name: str
    limit: Decimal | None
    balance: Decimal | None


@dataclass
class Member:
    member_number: str
    first_name: str
    last_name: str
    date_of_birth: str
    gender: str
    scheme: str
    insurer: str
    benefits: list[Benefit] = field(default_factory=list)
    raw: Any = None


@dataclass
class Copay:
    kind: str  # FIXED or PERCENTAGE
    amount: Decimal

    def for_total(self, total: Decimal) -> Decimal:
        if self.kind.upper().startswith("PERC"):
            return (total * self.amount / 100).quantize(Decimal("0.01"))
        return min(self.amount, total)


@dataclass
class ClaimStatus:
    status: str  # Pending, Cancelled or Billed as Smart spells it
    claim_id: str
    raw: Any = None

    @property
    def plain(self) -> str:
        """Our status value: pending, billed or cancelled."""
        word = self.status.strip().lower()
        if word.startswith("bill"):
            return "billed"
        if word.startswith("cancel"):
            return "cancelled"
        return "pending"


def _text(data: dict[str, Any], *names: str) -> str:
    return parse.text(lenient_get(data, *names, default=None))


def _amount(data: dict[str, Any], *names: str) -> Decimal | None:
    # Benefit limits and balances are DecimalField(max_digits=14, decimal_places=2).
    return parse.amount(lenient_get(data, *names, default=None), max_digits=14)


def _when(value: Any) -> datetime | None:
    parsed = parse_datetime(str(value)) if value else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _session(data: dict[str, Any]) -> RemoteSession:
    opened = _when(lenient_get(data, "openedAt", "createdAt", "dateCreated", "sessionDate"))
    opened = opened or timezone.now()
    expires = (_when(lenient_get(data, "expiresAt", "expiryDate"))
               or opened + timedelta(hours=SESSION_HOURS))
    return RemoteSession(
        session_id=_text(data, "sessionId", "id", "visitId"),
        patient_number=_text(data, "patientNumber"),
        status=_text(data, "status", "sessionStatus").upper() or "PENDING",
        opened_at=opened, expires_at=expires,
        visit_number=_text(data, "visitNumber"),
    )


def _list(data: Any, *keys: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        inner = lenient_get(data, *keys, default=None)
        if isinstance(inner, list):
            return inner
        return [data] if data else []
    return []


def _object(data: Any, what: str) -> dict[str, Any]:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    if not isinstance(data, dict) or "_unparsed" in data:
        raise errors.BadResponse(f"Smart sent an unreadable {what} answer.")
    return data


def pending_sessions(connection: Connection, patient_number: str) -> list[RemoteSession]:
    """2a. GET api/visit?patientNumber=&sessionStatus=PENDING."""
    response = call(connection, "GET", "api/visit",
                    params={"patientNumber": patient_number, "sessionStatus": "PENDING"})
    sessions = [_session(row) for row in _list(response.data, "sessions", "data", "visits")
                if isinstance(row, dict)]
    return [s for s in sessions if s.session_id and s.status == "PENDING"]


def merge_session(connection: Connection, session_id: str, visit_number: str) -> RemoteSession:
    """2b. POST api/visit/{sessionId}/visit-number/{visitNumber}: PENDING -> ACTIVE."""
    response = call(connection, "POST", f"api/visit/{session_id}/visit-number/{visit_number}")
    data = response.data if isinstance(response.data, dict) else {}
    session = _session({"sessionId": session_id, "status": "ACTIVE", **data})
    session.visit_number = session.visit_number or visit_number
    return session


def member(connection: Connection, patient_number: str, session_id: str) -> Member:
    """3. GET api/member?patientNumber=&sessionId=: biodata and benefits with balances."""
    response = call(connection, "GET", "api/member",
                    params={"patientNumber": patient_number, "sessionId": session_id})
    data = _object(response.data, "member")
    benefits = [
        Benefit(benefit_id=_text(b, "benefitId", "id"), name=_text(b, "name", "benefitName"),
                limit=_amount(b, "limit", "benefitLimit"),
                balance=_amount(b, "balance", "availableBalance", "amount"))
        for b in _list(lenient_get(data, "benefits", default=[]), "benefits") if isinstance(b, dict)
    ]
    return Member(
        member_number=_text(data, "memberNumber", "memberNo"),
        first_name=_text(data, "firstName"), last_name=_text(data, "lastName", "surname"),
        date_of_birth=_text(data, "dateOfBirth", "dob"), gender=_text(data, "gender"),
        scheme=_text(data, "scheme", "schemeName"), insurer=_text(data, "insurer", "payer"),
        benefits=[b for b in benefits if b.benefit_id], raw=response.data,
    )


def copayment(connection: Connection, benefit_id: str, provider_key: str,
              visit_number: str) -> Copay:
    """4. GET api/copayment?benefitId=&providerKey=&visitNumber= (only where Smart manages
    the facility's co-pays)."""
    response = call(connection, "GET", "api/copayment", params={
        "benefitId": benefit_id, "providerKey": provider_key, "visitNumber": visit_number})
    data = _object(response.data, "co-pay")
    amount = _amount(data, "copayAmount", "copay", "amount")
    if amount is None:
        raise errors.BadResponse("Smart's co-pay answer carries no amount.")
    return Copay(kind=_text(data, "copayType", "type") or "FIXED", amount=amount)


def post_claim(connection: Connection, patient_number: str, session_id: str,
               body: dict[str, Any], ticket_id: int | None = None) -> str:
    """5. POST api/claims?patientNumber=&sesionId=: the invoice. The document spells
    `sesionId`; we send `sessionId` too. Returns Smart's claim id (may be empty)."""
    response = call(connection, "POST", "api/claims", json=body, ticket_id=ticket_id, params={
        "patientNumber": patient_number, "sesionId": session_id, "sessionId": session_id})
    data = response.data if isinstance(response.data, dict) else {}
    return _text(data, "claimId", "id")


def claim_status(connection: Connection, invoice_number: str, member_number: str,
                 session_id: str, visit_number: str, ticket_id: int | None = None) -> ClaimStatus:
    """6. GET api/claim-status?invoiceNumber=&memberNumber=&sessionId=&visitNumber=."""
    response = call(connection, "GET", "api/claim-status", ticket_id=ticket_id, params={
        "invoiceNumber": invoice_number, "memberNumber": member_number,
        "sessionId": session_id, "visitNumber": visit_number})
    data = _object(response.data, "claim status")
    status = _text(data, "status", "claimStatus", "invoiceStatus")
    if not status:
        raise errors.BadResponse("Smart's claim-status answer carries no status.")
    return ClaimStatus(status=status, claim_id=_text(data, "claimId", "id"), raw=response.data)


def send_diagnosis(connection: Connection, body: dict[str, Any]) -> Any:
    """7. POST api/clinic-record: diagnoses sent after the patient left (by arrangement)."""
    return call(connection, "POST", "api/clinic-record", json=body).data
