"""The insurance discovery workflow: queue a search, submit and poll it on the shared
engine, store the coverages found, apply one to its encounter, and export the results.

Outcomes: "found" (one or more coverages), "none_found" (Integrex answered, with no
coverage: a result of its own, not an error) and "error" (a refused request, an answer
that is not a discovery result, or a ticket that never finished).

Re-sending: a search has no effect at Integrex beyond its cost and the spec offers no way
to look one up by our account number, so an attempt after a crash simply searches again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from eligibility import client
from eligibility.models import KIND, Coverage
from revcycle import engine, parse, services
from revcycle.audit import record_event
from revcycle.crypto import mask_ssn
from revcycle.csvio import lenient_get
from revcycle.models import Batch, Connection, Encounter, Facility, Ticket

log = logging.getLogger("eligibility.flow")

FOUND, NONE_FOUND, ERROR = "found", "none_found", "error"
OUTCOMES = {FOUND: "Coverage found", NONE_FOUND: "No coverage found", ERROR: "Error"}
# What the biller does next (the result page and the worklist show it).
ADVICE = {
    FOUND: "Coverage found: apply it to the account, then check the claim's status with that "
           "payer.",
    NONE_FOUND: "No coverage on file: confirm the patient's name, date of birth and address "
                "with the patient and search again, or bill the patient as self-pay.",
    ERROR: "Discovery could not run: read the error, correct the patient's details and "
           "search again.",
}
DEFAULT_SERVICE_TYPE = "30"  # the spec: "can use "30" as default"


# Building and queueing requests -----------------------------------------------------


def request_from_encounter(encounter: Encounter) -> dict[str, str]:
    """The request an encounter would send, under the specification's names."""

    def day(value: date | str | None) -> str:
        return value.isoformat() if isinstance(value, date) else (value or "")

    return {
        "patientDob": day(encounter.patient_dob),
        "patientFirstName": encounter.patient_first_name,
        "patientLastName": encounter.patient_last_name,
        "patientSsn": encounter.patient_ssn,
        "patientGender": encounter.patient_gender,
        "sub.MemberID": encounter.subscriber_id,
        "subscriberFirstName": encounter.subscriber_first_name,
        "subscriberLastName": encounter.subscriber_last_name,
        "subscriberSsn": encounter.subscriber_ssn,
        "subscriberGender": encounter.subscriber_gender,
        "subscriberDob": day(encounter.subscriber_dob),
        "billingProviderNpi": encounter.provider_npi or encounter.facility.npi,
        "beginDos": day(encounter.service_date_from),
        "endDos": day(encounter.service_date_to),
        "serviceType": DEFAULT_SERVICE_TYPE,
        "payerId": "",
        "payerName": "",
        "employerName": "",
        "internalAccountNumber1": encounter.account_number,
        "internalAccountNumber2": encounter.account_number2,
    }


def clean_request(values: dict[str, Any]) -> dict[str, str]:
    """Every documented name, in the documented order, as strings ("" when absent)."""
    body = {}
    for name in client.REQUEST_FIELDS:
        value = values.get(name)
        body[name] = value.isoformat() if isinstance(value, date) else str(value or "").strip()
    body["serviceType"] = body["serviceType"] or DEFAULT_SERVICE_TYPE
    return body


def find_encounter(facility: Facility, account_number: str) -> Encounter | None:
    if not account_number:
        return None
    return Encounter.objects.filter(facility=facility, account_number=account_number).first()


def queue_lookup(*, facility: Facility, connection: Connection, body: dict[str, Any],
                 user: Any = None, encounter: Encounter | None = None,
                 batch: Batch | None = None) -> Ticket:
    """Create a queued discovery ticket (the caller kicks the engine)."""
    body = clean_request(body)
    if encounter is None:
        encounter = find_encounter(facility, body["internalAccountNumber1"])
    name = f"{body['patientFirstName']} {body['patientLastName']}".strip()
    return Ticket.objects.create(
        kind=KIND, facility=facility, connection=connection, encounter=encounter, batch=batch,
        created_by=user, request=body, account_number=body["internalAccountNumber1"][:50],
        # payerId is a search region ("CA"), not a payer: the column stays blank until the
        # payers found fill it (store_coverages).
        patient_name=name[:200], payer="",
        next_poll_at=timezone.now(),
    )


# Engine steps -----------------------------------------------------------------------


def submit(ticket: Ticket) -> engine.Step:
    remote_id = client.submit_discovery(ticket.connection, ticket.request, ticket_id=ticket.pk)
    return engine.Submitted(remote_id, http_status=200)


def poll(ticket: Ticket) -> engine.Step:
    answer = client.fetch_discovery(ticket.connection, ticket.remote_id, ticket_id=ticket.pk)
    if not answer.ready:
        return engine.Pending(http_status=answer.http_status, retry_after=answer.retry_after)
    if answer.error:
        return engine.Failed(answer.error, http_status=answer.http_status)
    coverages = [c for c in answer.coverages if _names_a_plan(c)]
    outcome = FOUND if coverages else NONE_FOUND
    return engine.Done(outcome, response=answer.raw, http_status=answer.http_status,
                       store=lambda: store_coverages(ticket, coverages))


def _names_a_plan(coverage: client.CoverageData) -> bool:
    """A record with neither payer nor member id is Integrex saying "nothing found"."""
    text = coverage.text
    return any(text.get(k) for k in ("payer_id1", "payer_name1", "payer_id2", "payer_name2",
                                      "member_id"))


def store_coverages(ticket: Ticket, coverages: Iterable[client.CoverageData]) -> None:
    """Replace the ticket's coverages (a step may run twice)."""
    coverages = list(coverages)
    Coverage.objects.filter(ticket=ticket).delete()
    Coverage.objects.bulk_create(
        Coverage(ticket=ticket, position=i, raw=c.raw, **c.fields())
        for i, c in enumerate(coverages)
    )
    # The worklist's payer column (and filter) shows the payers found, not the region.
    found = "; ".join(dict.fromkeys(
        c.text["payer_name1"] or c.text["payer_id1"] for c in coverages
        if c.text["payer_name1"] or c.text["payer_id1"]))
    if found:
        Ticket.objects.filter(pk=ticket.pk).update(payer=found[:200])


# Registered from EligibilityConfig.ready(); the spec asks for a 15 s poll interval.
ENGINE_KIND = engine.Kind(name=KIND, label="Insurance discovery", service="integrex",
                          submit=submit, poll=poll, default_interval=15, idempotent=True)


def summary(request: dict[str, Any]) -> services.Summary:
    return services.Summary(service_date=parse.day(lenient_get(request, "beginDos",
                                                               default=None)))


# Registered from EligibilityConfig.ready().
TICKET_KIND = services.TicketKind(name=KIND, service="integrex", label="Insurance discovery",
                                  summary=summary, outcome_labels=OUTCOMES,
                                  outcome_advice=ADVICE, default_advice=ADVICE[ERROR],
                                  detail_url=lambda t: reverse("eligibility:result", args=[t.pk]))


# Using a coverage -------------------------------------------------------------------


def apply_coverage(request: Any, coverage: Coverage) -> Encounter:
    """Put a found coverage on its encounter (payer and member id), audited."""
    ticket = coverage.ticket
    encounter = ticket.encounter
    if encounter is None:
        raise ValueError("This lookup is not linked to an account.")
    with transaction.atomic():
        encounter.payer_id = coverage.payer_id[:50]
        encounter.payer_name = coverage.payer_display[:200]
        encounter.subscriber_id = coverage.member_id[:50]
        encounter.save(update_fields=["payer_id", "payer_name", "subscriber_id", "updated_at",
                                      "patient_ssn_index"])
        Coverage.objects.filter(ticket=ticket).update(applied_at=None, applied_by=None)
        coverage.applied_at = timezone.now()
        coverage.applied_by = request.user
        coverage.save(update_fields=["applied_at", "applied_by"])
        record_event(request, "change", encounter,
                     detail=f"applied discovery coverage {coverage.pk} of ticket {ticket.pk}")
    log.info("coverage %s applied to encounter %s", coverage.pk, encounter.pk)
    return encounter


# Export -----------------------------------------------------------------------------

EXPORT_HEADER = [
    "internalAccountNumber1", "internalAccountNumber2", "patientFirstName", "patientLastName",
    "patientDob", "patientSsn", "state", "outcome", "message", "coverageNumber",
    "payerID1", "payerName1", "payerID2", "payerName2", "payerPhone", "payerTPA",
    "sub.MemberID", "groupNumber", "planNumber", "planTypeCode", "planType",
    "coverageLevelDescription", "coverageStatusCode", "coverageStatusDesc",
    "coverageStartDate", "coverageEndDate", "relationshipDesc", "benefitTypeDesc",
    *[key for _, key in client.LIMIT_KEYS],
    "coins(%)InNetwork", "coins(%)OutOfNetwork", "copay($)", "copay($)Specialist",
    "altName", "primaryCareFacility", "pcpFirstName", "pcpLastName", "pcpNPI", "pcpPhone",
    "integrexId", "requestStatus", "appliedAt",
]
_AMOUNT_FIELDS = [name for name, _ in client.AMOUNT_KEYS]


def can_export_full_ssn(user: Any) -> bool:
    """Managers and admins may export SSNs in full; billers' exports mask them."""
    from revcycle.roles import can_see_full_ssn

    return can_see_full_ssn(user)


def export_rows(tickets: Iterable[Ticket], *, full_ssn: bool = False) -> Iterator[list[Any]]:
    """One row per coverage; a ticket without coverage gives one row with its outcome."""
    for ticket in tickets:
        body = ticket.request or {}
        ssn = body.get("patientSsn", "")
        person = [body.get("internalAccountNumber1", ""), body.get("internalAccountNumber2", ""),
                  body.get("patientFirstName", ""), body.get("patientLastName", ""),
                  body.get("patientDob", ""), ssn if full_ssn else mask_ssn(ssn),
                  ticket.state, ticket.outcome, ticket.last_error]
        coverages = list(ticket.coverages.all())
        if not coverages:
            yield person + [""] * (len(EXPORT_HEADER) - len(person))
            continue
        for n, c in enumerate(coverages, start=1):
            yield person + [
                n, c.payer_id1, c.payer_name1, c.payer_id2, c.payer_name2, c.payer_phone,
                _yes_no(c.payer_tpa), c.member_id, c.group_number,
                c.plan_number, c.plan_type_code, c.plan_type, c.coverage_level_description,
                c.coverage_status_code, c.coverage_status_desc, c.coverage_start_date or "",
                c.coverage_end_date or "", c.relationship_desc, c.benefit_type_desc,
                *[_blank(getattr(c, name)) for name in _AMOUNT_FIELDS],
                c.alt_name, c.primary_care_facility, c.pcp_first_name, c.pcp_last_name,
                c.pcp_npi, c.pcp_phone, c.integrex_id, c.request_status,
                c.applied_at.isoformat() if c.applied_at else "",
            ]


def _yes_no(value: bool | None) -> str:
    """A flag as a person reads it: never the text "False" in a spreadsheet cell."""
    return "" if value is None else ("Yes" if value else "No")


# Dollar columns are amounts in .xlsx (the names do not say so the usual way).
EXPORT_KINDS = {name: "amount" for name in EXPORT_HEADER if "($)" in name}


def _blank(value: Any) -> Any:
    return "" if value is None else value
