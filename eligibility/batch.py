"""Discovery batches on the shared machinery (revcycle/batches.py): the CSV columns with
the spellings registration staff use, and the BatchSpec registered as "discovery".

Upload template columns: the request names of the specification's [POST] table
(`patientFirstName`, ..., `sub.MemberID`, ..., `internalAccountNumber2`). Blank
`billingProviderNpi` is the facility's NPI; blank `serviceType` is "30".

Export (eligibility.flow.EXPORT_HEADER): one row per coverage found; a lookup with no
coverage (none found, error, or not finished) has one row. The patient's SSN column is
masked (`***-**-1234`) in batch exports and in run_batch's file; only the worklist export
of a manager or admin carries it in full (see flow.can_export_full_ssn).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from eligibility import flow
from eligibility.forms import DiscoveryRequestForm
from eligibility.models import KIND
from integrex.columns import COMMON_COLUMNS as COMMON
from revcycle import batches
from revcycle.csvio import Column
from revcycle.models import Facility, Ticket

COLUMNS: list[Column] = [
    COMMON["patientFirstName"],
    COMMON["patientLastName"],
    COMMON["patientDob"],
    Column("patientGender", "patientGender", ("Gender", "Sex", "Patient Sex")),
    Column("patientSsn", "patientSsn", ("SSN", "Patient SSN", "Social Security Number"),
           ssn=True),
    Column("sub.MemberID", "sub.MemberID",
           ("Member ID", "MemberID", "subMemberId", "Policy Number", "Subscriber ID")),
    COMMON["subscriberFirstName"],
    COMMON["subscriberLastName"],
    Column("subscriberSsn", "subscriberSsn", ("Subscriber SSN",), ssn=True),
    Column("subscriberGender", "subscriberGender", ("Subscriber Gender", "Subscriber Sex")),
    COMMON["subscriberDob"],
    COMMON["billingProviderNpi"],
    Column("beginDos", "beginDos",
           ("Date of Service", "DOS", "Service Date", "Admit Date", "Admission Date",
            "From Date", "Begin DOS"), required=True),
    Column("endDos", "endDos", ("End DOS", "Discharge Date", "To Date", "Through Date")),
    Column("serviceType", "serviceType", ("Service Type",)),
    COMMON["payerId"],
    Column("payerName", "payerName", ("Region", "Search Region", "State", "Payer Name")),
    Column("employerName", "employerName", ("Employer", "Employer Name")),
    Column("internalAccountNumber1", "internalAccountNumber1",
           ("Account", "Account Number", "Account #", "Acct", "MRN Account", "trackingId1")),
    Column("internalAccountNumber2", "internalAccountNumber2",
           ("Account Number 2", "Second Account", "Visit Number", "trackingId2")),
]

EXAMPLE_ROW = {
    "patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "1970-01-02",
    "patientGender": "F", "patientSsn": "", "billingProviderNpi": "1083052872",
    "beginDos": "2026-10-01", "serviceType": "30", "payerName": "CA",
    "internalAccountNumber1": "ACC1001",
}


def build_request(cleaned: dict[str, Any], facility: Facility) -> dict[str, str]:
    body = flow.clean_request(cleaned)
    body["billingProviderNpi"] = body["billingProviderNpi"] or facility.npi
    return body


def summary(cleaned: dict[str, Any]) -> tuple[str, str, str]:
    name = f"{cleaned.get('patientFirstName', '')} {cleaned.get('patientLastName', '')}"
    # payerName is a search region ("CA"), not a payer: the payers found replace the id.
    return (str(cleaned.get("internalAccountNumber1") or ""), name.strip(),
            str(cleaned.get("payerId") or ""))


def row_defaults(facility: Facility) -> dict[str, str]:
    return {"billingProviderNpi": facility.npi, "serviceType": flow.DEFAULT_SERVICE_TYPE}


def export_rows(tickets: QuerySet[Ticket]) -> Iterator[list[Any]]:
    """Masked SSNs, coverages prefetched per chunk of 2,000 tickets."""
    return flow.export_rows(
        tickets.prefetch_related("coverages").iterator(chunk_size=2000), full_ssn=False)


SPEC = batches.BatchSpec(
    kind=KIND, cli_name="discovery", service="integrex", label="Insurance discovery",
    columns=COLUMNS, form_class=DiscoveryRequestForm, build_request=build_request,
    summary=summary, export_header=flow.EXPORT_HEADER, export_rows=export_rows,
    url_namespace="eligibility", ticket_url_name="eligibility:result",
    result_cells_template="eligibility/_result_cells.html",
    result_headers=["Outcome", "Detail"], row_defaults=row_defaults,
    account_field="internalAccountNumber1", template_filename="discovery-template.csv",
    example_row=EXAMPLE_ROW, export_kinds=flow.EXPORT_KINDS,
)
