"""Bulk payer claims on the shared batch machinery (revcycle/batches.py): a CSV of claims
under the guide's field names, each row checked like the claim form (codes on the real
lists), queued as one engine ticket per distinct row, with live progress and an export of
the payer's answers.

A row's PayerClaim is made by the engine's first step (flow.claim_for_ticket), because the
machinery creates tickets in bulk. Duplicates: two identical rows in a file are one claim
(the machinery's hash); a row identical to a claim already sent to this payer is not sent
(flow.submit), the same protection a single claim has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from payer.flow import KIND
from payer.forms import ClaimFieldsForm, claim_body
from revcycle import batches
from revcycle.csvio import Column
from revcycle.models import Facility, Ticket

COLUMNS: list[Column] = [
    Column("patient_name", "patient_name", ("Patient", "Patient Name", "Name"), required=True),
    Column("insurance_id", "insurance_id", ("Insurance ID", "Member ID", "Policy Number"),
           required=True),
    Column("diagnosis_code", "diagnosis_code", ("Diagnosis", "ICD-10", "ICD10", "Dx"),
           required=True),
    Column("amount", "amount", ("Amount", "Charges", "Total Charges"), required=True),
    Column("procedure_code", "procedure_code", ("Procedure", "CPT", "HCPCS")),
    Column("diagnosis_description", "diagnosis_description", ("Diagnosis Description",)),
    Column("procedure_description", "procedure_description", ("Procedure Description",)),
    Column("date_of_service", "date_of_service", ("Date of Service", "DOS", "Service Date")),
    Column("priority", "priority", ("Priority",)),
    Column("patient_id", "patient_id", ("Account", "Account Number", "Patient ID")),
    Column("notes", "notes", ("Notes",)),
    Column("provider_id", "provider_id", ("Provider ID",)),
    Column("provider_name", "provider_name", ("Provider", "Provider Name", "Facility")),
    Column("referring_physician", "referring_physician", ("Referring Physician",)),
    Column("prior_authorization", "prior_authorization", ("Prior Authorization", "Auth")),
    Column("patient_dob", "patient_dob", ("DOB", "Date of Birth", "Patient DOB")),
    Column("patient_gender", "patient_gender", ("Gender", "Sex")),
    Column("emergency", "emergency", ("Emergency",)),
]

EXAMPLE_ROW = {
    "patient_name": "JANE DOE", "insurance_id": "BC-789-456", "diagnosis_code": "J20.9",
    "amount": "1250.00", "procedure_code": "99213", "date_of_service": "2026-10-01",
    "priority": "medium", "patient_id": "ACC1001",
}

EXPORT_HEADER = ["line_reference", "status", "claim_id", "patient_name", "patient_id",
                 "diagnosis_code", "procedure_code", "amount", "expected_payment",
                 "patient_responsibility", "paid_amount", "review_reason", "rejection_reason",
                 "error_code", "message", "http_status"]


def build_request(cleaned: dict[str, Any], facility: Facility) -> dict[str, Any]:
    body = claim_body(cleaned)
    body.setdefault("provider_name", facility.name)
    return body


def summary(cleaned: dict[str, Any]) -> tuple[str, str, str]:
    return (str(cleaned.get("patient_id") or ""), str(cleaned.get("patient_name") or ""), "")


def export_rows(tickets: QuerySet[Ticket]) -> Iterator[list[Any]]:
    for t in tickets.select_related("payer_claim").iterator(chunk_size=2000):
        claim = getattr(t, "payer_claim", None)
        request = t.request or {}
        if claim is None:
            yield [f"ticket-{t.pk}", t.outcome or t.state, "", t.patient_name,
                   request.get("patient_id", ""), request.get("diagnosis_code", ""),
                   request.get("procedure_code", ""), request.get("amount", ""), "", "", "",
                   "", "", "", t.last_error, t.last_http_status or ""]
            continue
        yield [claim.reference, claim.status, claim.claim_id, claim.patient_name,
               request.get("patient_id", ""), claim.diagnosis_code, claim.procedure_code,
               claim.amount, _blank(claim.expected_payment),
               _blank(claim.patient_responsibility), _blank(claim.paid_amount),
               claim.review_reason, claim.rejection_reason, claim.error_code,
               claim.message or t.last_error, claim.http_status or t.last_http_status or ""]


def _blank(value: Any) -> Any:
    return "" if value is None else value


SPEC = batches.BatchSpec(
    kind=KIND, cli_name="payer-claims", service="payer", label="Payer claims",
    columns=COLUMNS, form_class=ClaimFieldsForm, build_request=build_request,
    summary=summary, export_header=EXPORT_HEADER, export_rows=export_rows,
    url_namespace="payer", ticket_url_name="payer:ticket",
    result_cells_template="payer/_result_cells.html",
    result_headers=["Payer's answer", "Detail"], account_field="patient_id",
    rows_select_related=("payer_claim",), template_filename="payer-claims-template.csv",
    example_row=EXAMPLE_ROW,
)
