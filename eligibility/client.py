"""Integrex insurance discovery (docs/integrex.md): POST the patient, then GET with the
returned id until the answer is ready.

Responses are parsed here, at the boundary, into `CoverageData`: the keys are read
leniently (the specification's own table spells them `oop(\\$) IndivInNetworkRemain ing`),
amounts become Decimals and dates `date`s. Nothing here logs request bodies: they carry SSNs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from revcycle import api, errors, parse
from revcycle.csvio import lenient_get, normalise_key
from revcycle.http import server_message
from revcycle.logfilters import redact
from revcycle.models import Connection

PATH = "insurance-discovery"

# The request's names, exactly as the specification's POST table gives them.
REQUEST_FIELDS = (
    "patientDob", "patientFirstName", "patientLastName", "patientSsn", "patientGender",
    "sub.MemberID", "subscriberFirstName", "subscriberLastName", "subscriberSsn",
    "subscriberGender", "subscriberDob", "billingProviderNpi", "beginDos", "endDos",
    "serviceType", "payerId", "payerName", "employerName", "internalAccountNumber1",
    "internalAccountNumber2",
)

# Deductible (ded) and out-of-pocket (oop) amounts: (field prefix, spec key).
LIMIT_KEYS: list[tuple[str, str]] = [
    (f"{kind}_{who.lower()}_{'in' if net == 'InNetwork' else 'out'}{'_remaining' if rem else ''}",
     f"{kind}($){who}{net}{rem}")
    for kind in ("oop", "ded")
    for who in ("Indiv", "Family")
    for net in ("InNetwork", "OutOfNetwork")
    for rem in ("", "Remaining")
]

# Typed text fields of a coverage: (attribute, spec key and other spellings seen).
TEXT_KEYS: list[tuple[str, tuple[str, ...]]] = [
    ("member_id", ("sub.MemberID", "subMemberId", "memberId")),
    ("payer_id1", ("payerID1", "payerId")),
    ("payer_name1", ("payerName1", "payerName")),
    ("payer_id2", ("payerID2",)),
    ("payer_name2", ("payerName2",)),
    ("payer_phone", ("payerPhone",)),
    ("payer_address", ("payerAddress",)),
    ("payer_fax", ("payerFax",)),
    ("payer_website", ("payerWebsite",)),
    ("alt_name", ("altName",)),
    ("alt_category", ("altCategory",)),
    ("alt_type", ("altType",)),
    ("alt_address", ("altAddress",)),
    ("alt_phone", ("altPhone",)),
    ("plan_type_code", ("planTypeCode",)),
    ("plan_type", ("planType",)),
    ("plan_type_description", ("planTypeDescription",)),
    ("group_number", ("groupNumber",)),
    ("plan_number", ("planNumber",)),
    ("coverage_level_code", ("coverageLevelCode",)),
    ("coverage_level_description", ("coverageLevelDescription",)),
    ("coverage_status_code", ("coverageStatusCode",)),
    ("coverage_status_desc", ("coverageStatusDesc", "coverageStatusDescription")),
    ("relationship_code", ("relationshipCode",)),
    ("relationship_desc", ("relationshipDesc", "relationshipDescription")),
    ("benefit_type_code", ("benefitTypeCode",)),
    ("benefit_type_desc", ("benefitTypeDesc", "benefitTypeDescription")),
    ("primary_care_facility", ("primaryCareFacility",)),
    ("pcp_first_name", ("pcpFirstName",)),
    ("pcp_last_name", ("pcpLastName",)),
    ("pcp_npi", ("pcpNPI",)),
    ("pcp_address", ("pcpAddress",)),
    ("pcp_phone", ("pcpPhone",)),
    ("pcp_fax", ("pcpFax",)),
    ("patient_address", ("patientAddress",)),
    ("subscriber_address", ("subscriberAddress",)),
    ("subscriber_first_name", ("subFirstName", "subscriberFirstName")),
    ("subscriber_last_name", ("subLastName", "subscriberLastName")),
    ("integrex_id", ("integrexId",)),
    ("request_status_code", ("requestStatusCode",)),
    ("request_status", ("requestStatus",)),
]
DATE_KEYS: list[tuple[str, tuple[str, ...]]] = [
    ("coverage_start_date", ("coverageStartDate",)),
    ("coverage_end_date", ("coverageEndDate",)),
    ("response_date", ("responseDate",)),
]
AMOUNT_KEYS: list[tuple[str, tuple[str, ...]]] = [
    *[(name, (key,)) for name, key in LIMIT_KEYS],
    ("coins_in_network", ("coins(%)InNetwork",)),
    ("coins_out_of_network", ("coins(%)OutOfNetwork",)),
    # The table's "copay($)" is the office co-pay; some answers say so.
    ("copay_office", ("copay($)", "copay($)Office", "copay")),
    ("copay_specialist", ("copay($)Specialist",)),
]
# Keys that mark a dict as a coverage (any one is enough).
_COVERAGE_MARKERS = {normalise_key(k) for k in (
    "sub.MemberID", "payerID1", "payerName1", "planTypeCode", "coverageStatusCode",
    "integrexId", "groupNumber",
)}


@dataclass
class CoverageData:
    """One plan found for the patient, typed; `raw` is the coverage exactly as received."""

    raw: dict[str, Any]
    text: dict[str, str] = field(default_factory=dict)
    dates: dict[str, date | None] = field(default_factory=dict)
    amounts: dict[str, Decimal | None] = field(default_factory=dict)
    payer_tpa: bool | None = None

    def fields(self) -> dict[str, Any]:
        """Model field values (eligibility.models.Coverage)."""
        return {**self.text, **self.dates, **self.amounts, "payer_tpa": self.payer_tpa}


@dataclass
class DiscoveryAnswer:
    """The GET's answer: `ready` False while Integrex still works (HTTP 202)."""

    ready: bool
    http_status: int
    coverages: list[CoverageData] = field(default_factory=list)
    raw: Any = None
    error: str = ""
    # A 202's Retry-After: the engine waits at least this long before the next poll.
    retry_after: float | None = None


def read_coverage(raw: dict[str, Any]) -> CoverageData:
    """Type one coverage, reading every key leniently."""
    data = CoverageData(raw=raw)
    for name, keys in TEXT_KEYS:
        data.text[name] = parse.text(lenient_get(raw, *keys))
    for name, keys in DATE_KEYS:
        data.dates[name] = parse.day(lenient_get(raw, *keys))
    for name, keys in AMOUNT_KEYS:
        # Coverage amounts are DecimalField(max_digits=12, decimal_places=2).
        data.amounts[name] = parse.amount(lenient_get(raw, *keys))
    data.payer_tpa = parse.flag(lenient_get(raw, "payerTPA"))
    return data


def _is_coverage(item: Any) -> bool:
    return isinstance(item, dict) and any(normalise_key(k) in _COVERAGE_MARKERS for k in item)


def coverage_list(data: Any) -> list[dict[str, Any]] | None:
    """The coverages in an answer, whatever its wrapping: a list, one object, or an object
    holding a list. None when the answer is not a discovery result at all."""
    if data is None:
        return []
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if not isinstance(data, dict):
        return None
    if _is_coverage(data):
        return [data]
    for value in data.values():
        if isinstance(value, list) and (not value or all(isinstance(i, dict) for i in value)):
            return [item for item in value if isinstance(item, dict)]
    if not data or data == {}:
        return []
    return None


def _call(connection: Connection, method: str, **kwargs: Any) -> Any:
    """api.call, with SSN-shaped text masked in error messages: a server that echoes the
    request in its message must not put an SSN into Ticket.last_error or onto a page."""
    try:
        return api.call(connection, method, PATH, **kwargs)
    except errors.ApiError as exc:
        exc.message = redact(exc.message)
        exc.args = (exc.message,)
        raise


def submit_discovery(connection: Connection, body: dict[str, Any], *,
                     ticket_id: int | None = None) -> str:
    """[POST] Insurance Discovery Request: returns the request's id."""
    response = _call(connection, "POST", json=body, ticket_id=ticket_id)
    data = response.data
    remote_id = parse.text(lenient_get(data, "id")) if isinstance(data, dict) else ""
    if not remote_id:
        raise errors.BadResponse(
            server_message(data, "Integrex accepted the request but returned no id."),
            status=response.status, body=data)
    return remote_id


def fetch_discovery(connection: Connection, remote_id: str, *,
                    ticket_id: int | None = None) -> DiscoveryAnswer:
    """[GET] Insurance Discovery Request. The id goes both as query parameter (the table)
    and in the JSON body (the Postman walkthrough): docs/integrex.md, "Quirks we tolerate"."""
    response = _call(connection, "GET", params={"id": remote_id}, json={"id": remote_id},
                     ticket_id=ticket_id)
    if response.status == 202:
        return DiscoveryAnswer(ready=False, http_status=202, raw=response.data,
                               retry_after=response.retry_after)
    items = coverage_list(response.data)
    if items is None:
        message = redact(server_message(response.data,
                                        "Integrex answered without any coverage data."))
        return DiscoveryAnswer(ready=True, http_status=response.status, raw=response.data,
                               error=message)
    return DiscoveryAnswer(ready=True, http_status=response.status, raw=response.data,
                           coverages=[read_coverage(item) for item in items])
