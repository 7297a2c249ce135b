"""Smart (SmartLink) API: one function per endpoint of smart-api-endpoints.txt.

The token (password grant with refresh), timeouts, retries of idempotent calls and the
error classes all come from revcycle.api.call; answers are read into small typed objects
here, leniently (keys compared without case or punctuation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from revcycle import errors, parse
from revcycle.api import call as api_call
from revcycle.csvio import lenient_get
from revcycle.http import ApiResponse
from revcycle.models import Connection

SESSION_HOURS = 24
# Where a session's times may be (the document names none; these are the spellings seen
# in Smart's answers and in Spring's usual field names).
OPENED_KEYS = ("sessionStartDate", "sessionDate", "startDate", "createdAt", "openedAt",
               "dateCreated")
EXPIRES_KEYS = ("sessionExpiryDate", "expiryDate", "expiresAt")
# HTTP reason phrases: Spring's default error body puts these in `error`, the
# explanation in `message` (PITFALLS.md, Spring Boot).
REASON_PHRASES = {"bad request", "unauthorized", "forbidden", "not found", "conflict", "gone",
                  "internal server error", "service unavailable", "method not allowed",
                  "unprocessable entity", "too many requests", "payment required"}


def smart_message(body: Any, fallback: str) -> str:
    """The explanation in a Smart error body: Spring's `message` first, a reason phrase
    only when nothing better was sent."""
    if not isinstance(body, dict):
        return fallback
    for key in ("message", "error_description", "detail", "errorMessage"):
        value = body.get(key)
        # Spring sends "No message available" when the service set none.
        if isinstance(value, str) and value.strip().lower() not in ("", "no message available"):
            return value.strip()
    error = body.get("error")
    if isinstance(error, str) and error.strip() and error.strip().lower() not in REASON_PHRASES:
        return error.strip()
    status = body.get("status") or ""
    phrase = error.strip() if isinstance(error, str) else ""
    if phrase:
        return f"Smart answered HTTP {status} {phrase} without an explanation.".replace("  ", " ")
    return fallback


def call(connection: Connection, method: str, path: str, **kwargs: Any) -> ApiResponse:
    """revcycle.api.call, with Smart's explanation (not Spring's reason phrase) as the
    error's message; the raw body stays on the error for the history."""
    try:
        return api_call(connection, method, path, **kwargs)
    except errors.ApiError as exc:
        if exc.body is not None:
            better = smart_message(exc.body, exc.message)
            if exc.status and exc.status >= 500:
                better = f"Smart had an error ({exc.status}): {better}"
            exc.message = better
            exc.args = (better,)
        raise


@dataclass
class RemoteSession:
    session_id: str
    patient_number: str
    status: str
    opened_at: datetime
    expires_at: datetime
    visit_number: str = ""
    # Smart gave neither time: the 24 hours are counted from when revcycle first saw it.
    times_estimated: bool = False


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
    """A time as epoch seconds or milliseconds (number or digits) or an ISO string."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number <= 0:  # NaN, zero or negative: not a time
            return None
        seconds = number / 1000 if number > 1e11 else number  # ms since 1973 vs seconds
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = parse_datetime(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        parsed = None
    if parsed is None:
        day = parse_date(text[:10]) if len(text) >= 10 else None
        parsed = datetime(day.year, day.month, day.day) if day else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _session(data: dict[str, Any]) -> RemoteSession:
    opened = _when(lenient_get(data, *OPENED_KEYS, default=None))
    expires = _when(lenient_get(data, *EXPIRES_KEYS, default=None))
    estimated = opened is None and expires is None
    if opened is None:
        # No opening time: 24 h before the expiry if given, else from now (first seen).
        opened = expires - timedelta(hours=SESSION_HOURS) if expires else timezone.now()
    expires = expires or opened + timedelta(hours=SESSION_HOURS)
    return RemoteSession(
        session_id=_text(data, "sessionId", "id", "visitId"),
        patient_number=_text(data, "patientNumber"),
        status=_text(data, "sessionStatus", "status").upper() or "PENDING",
        opened_at=opened, expires_at=expires, times_estimated=estimated,
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


def sessions(connection: Connection, patient_number: str, status: str) -> list[RemoteSession]:
    """2a. GET api/visit?patientNumber=&sessionStatus=: the patient's sessions in a status."""
    response = call(connection, "GET", "api/visit",
                    params={"patientNumber": patient_number, "sessionStatus": status})
    found = [_session(row) for row in _list(response.data, "sessions", "data", "visits",
                                            "content")
             if isinstance(row, dict)]
    return [s for s in found if s.session_id and s.status == status]


def pending_sessions(connection: Connection, patient_number: str) -> list[RemoteSession]:
    """2a. GET api/visit?patientNumber=&sessionStatus=PENDING (always check PENDING)."""
    return sessions(connection, patient_number, "PENDING")


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
    rows = lenient_get(data, "benefits", "benefitList", "memberBenefits", default=[])
    benefits = [_benefit(b) for b in _list(rows, "benefits") if isinstance(b, dict)]
    return Member(
        member_number=_text(data, "memberNumber", "memberNo", "membershipNumber"),
        first_name=_text(data, "firstName", "otherNames", "givenName"),
        last_name=_text(data, "lastName", "surname", "familyName"),
        date_of_birth=_text(data, "dateOfBirth", "dob", "birthDate"),
        gender=_text(data, "gender", "sex"),
        scheme=_text(data, "scheme", "schemeName"),
        insurer=_text(data, "insurer", "payerName", "payer", "insurerName"),
        benefits=[b for b in benefits if b.benefit_id], raw=response.data,
    )


def _benefit(row: dict[str, Any]) -> Benefit:
    """A benefit in our words or the document's: its limit may come as `amount`, its
    balance as a string; anything else the row carries is ignored."""
    return Benefit(
        benefit_id=_text(row, "benefitId", "id", "benefitCode"),
        name=_text(row, "name", "benefitName", "description", "benefitDescription"),
        limit=_amount(row, "limit", "benefitLimit", "amount", "limitAmount"),
        balance=_amount(row, "balance", "availableBalance", "benefitBalance", "remainingBalance"))


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
