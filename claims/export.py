"""Claim status CSVs: the upload columns (with the spellings people use) and the export.

Export layout (also shown on the worklist page): in CSV, one row per lookup with
`rowType` "claim", then one row per service line with `rowType` "line" that repeats the
claim's identity but not its amounts (`totalCharges`, `chargeAmt`, `paymentAmt` are on the
claim row only), so a sum over a column counts each claim once. In .xlsx, a "Claims" sheet
(one row per lookup) and a "Service lines" sheet (ticketId, account, payer claim number and
the line's cells).

- `ticketId`, `batchId`, `rowType`, `state`, `outcome` (paid, denied, pending, rejected, not_found,
  error), `error`, `requestedAt`: our own columns.
- The request, under the names of the spec's [POST] Claim Request table (`patientDob`,
  `subscriberId`, `billingProviderNpi`, ..., `trackingId1`, `trackingId2`). The two names
  the request shares with the response, `patientFirstName` and `patientLastName`, are
  emitted as `request.patientFirstName` and `request.patientLastName`.
- The answer, under the names of the [GET] Claim Response table (`internalAccountNumber`,
  `patientFirstName`, `subID`, ..., `svcLine`, `categoryCode`, ..., `integrexId`).
  `authorizationCaseId` is the table's garbled `authorizationCaseld`. `dateCheckCashed`
  is blank for an EFT (the spec's `null`: cashing does not apply).
- Our descriptions: `label.categoryCode`, `label.statusCode` (X12 277),
  `label.reasonSourceCd2` (RARC) and `label.reasonSourceCd3` (CARC), as "CODE: text".
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from claims import forms
from integrex.columns import COMMON_COLUMNS as COMMON
from revcycle import batches, codes, xlsxio
from revcycle.csvio import Column
from revcycle.models import Ticket

COLUMNS: list[Column] = [
    COMMON["patientFirstName"],
    COMMON["patientLastName"],
    COMMON["patientDob"],
    Column("subscriberId", "subscriberId",
           ("Member ID", "MemberID", "Member Number", "Subscriber ID", "subscriber_id",
            "Policy Number", "Insurance ID"), required=True, typos=("subscribertd",)),
    COMMON["subscriberFirstName"],
    COMMON["subscriberLastName"],
    COMMON["subscriberDob"],
    COMMON["billingProviderNpi"],
    Column("billingProviderName", "billingProviderName",
           ("Billing Provider", "Provider Name", "Billing Provider Name")),
    Column("taxId", "taxId", ("Tax ID", "TIN", "EIN", "Federal Tax ID", "tax_id")),
    Column("admitDate", "admitDate",
           ("Date of Service", "DOS", "Service Date", "Admit Date", "Admission Date",
            "date_of_service", "From Date"), required=True),
    Column("totalCharges", "totalCharges",
           ("Total Charges", "Charges", "Billed Amount", "Charge Amount", "Amount",
            "total_charges")),
    COMMON["payerId"],
    Column("payerName", "payerName", ("Payer", "Payer Name", "Insurance", "Insurance Name",
                                      "Plan Name")),
    Column("trackingId1", "trackingId1",
           ("Account Number", "Account", "Account No", "Acct", "Acct Number", "Account #",
            "Patient Account Number", "tracking_id_1"), typos=("trackingidi",)),
    Column("trackingId2", "trackingId2",
           ("Account Number 2", "Second Account Number", "tracking_id_2", "trackingid2")),
]

META_HEADER = ["ticketId", "batchId", "rowType", "state", "outcome", "error", "requestedAt"]
SHARED_NAMES = {"patientFirstName", "patientLastName"}
REQUEST_HEADER = [f"request.{n}" if n in SHARED_NAMES else n for n in forms.REQUEST_NAMES]
RESPONSE_HEADER = [
    "internalAccountNumber", "internalAccountNumber2", "patientLastName", "patientFirstName",
    "subID", "billingEntityName", "responseDate", "payerID", "payerContactName",
    "payerContactPhone", "dateOfService", "payerClmNo", "claimReceiptDate", "chargeAmt",
    "paymentAmt", "adjudicationDate", "checkDate", "checkNumber", "svcLine", "categoryCode",
    "statusCode", "categoryDescription", "statusDescription", "procedureCdQual", "procedureCd",
    "revenueCd", "svcLnQty", "allowedAmount", "coInsuranceAmount", "coPaymentAmount",
    "nonCoveredAmount", "checkStatus", "dateCheckCashed", "reasonSourceCd1",
    "reasonSourceCdDescTxt1", "reasonSourceCd2", "reasonSourceCdDescTxt2", "reasonSourceCd3",
    "reasonSourceCdDescTxt3", "authorizationCaseId", "authorizationDescription", "integrexId",
]
LABEL_HEADER = ["label.categoryCode", "label.statusCode", "label.reasonSourceCd2",
                "label.reasonSourceCd3"]
EXPORT_HEADER = META_HEADER + REQUEST_HEADER + RESPONSE_HEADER + LABEL_HEADER
# Claim-level amounts: on the claim row only, so a sum over the file counts each claim once.
CLAIM_AMOUNTS = ("totalCharges", "chargeAmt", "paymentAmt")
LINE_NAMES = ["svcLine", "procedureCdQual", "procedureCd", "revenueCd", "svcLnQty",
              "allowedAmount", "coInsuranceAmount", "coPaymentAmount", "nonCoveredAmount",
              "reasonSourceCd1", "reasonSourceCdDescTxt1", "reasonSourceCd2",
              "reasonSourceCdDescTxt2", "reasonSourceCd3", "reasonSourceCdDescTxt3"]
CLAIM_RESPONSE = [n for n in RESPONSE_HEADER if n not in LINE_NAMES]
# The .xlsx export: a "Claims" sheet (one row a lookup) and a "Service lines" sheet.
CLAIMS_SHEET = [n for n in META_HEADER if n != "rowType"] + REQUEST_HEADER + CLAIM_RESPONSE + [
    "label.categoryCode", "label.statusCode"]
LINES_SHEET = ["ticketId", "internalAccountNumber", "payerClmNo", *LINE_NAMES,
               "categoryCode", "statusCode", "categoryDescription", "statusDescription",
               *LABEL_HEADER]


def result_of(ticket: Ticket) -> Any:
    """The ticket's ClaimStatusResult, or None (no answer yet, or a failure)."""
    try:
        return ticket.claim_result
    except Ticket.claim_result.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return None


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _qty(value: Decimal | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == value.to_integral_value() else str(value.normalize())


def _claim_cells(r: Any) -> dict[str, str]:
    return {
        "internalAccountNumber": r.internal_account_number,
        "internalAccountNumber2": r.internal_account_number2,
        "patientLastName": r.patient_last_name, "patientFirstName": r.patient_first_name,
        "subID": r.sub_id, "billingEntityName": r.billing_entity_name,
        "responseDate": _s(r.response_date), "payerID": r.payer_id,
        "payerContactName": r.payer_contact_name, "payerContactPhone": r.payer_contact_phone,
        "dateOfService": _s(r.date_of_service), "payerClmNo": r.payer_claim_number,
        "claimReceiptDate": _s(r.claim_receipt_date), "chargeAmt": _s(r.charge_amount),
        "paymentAmt": _s(r.payment_amount), "adjudicationDate": _s(r.adjudication_date),
        "checkDate": _s(r.check_date), "checkNumber": r.check_number,
        "categoryCode": r.category_code, "statusCode": r.status_code,
        "categoryDescription": r.category_description,
        "statusDescription": r.status_description, "checkStatus": r.check_status,
        # An EFT is never cashed: the spec's `null` is left blank, checkStatus says EFT.
        "dateCheckCashed": "" if r.is_eft else _s(r.date_check_cashed),
        "authorizationCaseId": r.authorization_case_id,
        "authorizationDescription": r.authorization_description, "integrexId": r.integrex_id,
    }


def _line_cells(line: Any) -> dict[str, str]:
    cells = {
        "svcLine": _s(line.svc_line), "procedureCdQual": line.procedure_qualifier,
        "procedureCd": line.procedure_code, "revenueCd": line.revenue_code,
        "svcLnQty": _qty(line.units),
        "allowedAmount": _s(line.allowed_amount),
        "coInsuranceAmount": _s(line.coinsurance_amount),
        "coPaymentAmount": _s(line.copay_amount), "nonCoveredAmount": _s(line.noncovered_amount),
    }
    for n in (1, 2, 3):
        cells[f"reasonSourceCd{n}"] = getattr(line, f"reason_code{n}")
        cells[f"reasonSourceCdDescTxt{n}"] = getattr(line, f"reason_text{n}")
    # A line's own status, where it has one, over the claim's.
    for name, attr in (("categoryCode", "category_code"), ("statusCode", "status_code"),
                       ("categoryDescription", "category_description"),
                       ("statusDescription", "status_description")):
        if getattr(line, attr):
            cells[name] = getattr(line, attr)
    return cells


def _labels(cells: dict[str, str]) -> list[str]:
    return [codes.label("x12_category", cells.get("categoryCode")),
            codes.label("x12_status", cells.get("statusCode")),
            codes.label("rarc", cells.get("reasonSourceCd2")),
            codes.label("carc", cells.get("reasonSourceCd3"))]


def _head(ticket: Ticket) -> dict[str, Any]:
    request = ticket.request or {}
    head = {"ticketId": ticket.pk, "batchId": ticket.batch_id or "", "state": ticket.state,
            "outcome": ticket.outcome, "error": ticket.last_error,
            "requestedAt": ticket.created_at.isoformat(timespec="seconds")}
    for name, column in zip(forms.REQUEST_NAMES, REQUEST_HEADER, strict=True):
        head[column] = request.get(name, "")
    return head


def ticket_rows(ticket: Ticket) -> Iterator[list[Any]]:
    """The claim row, then one row per service line (rowType "line") without the
    claim-level amounts."""
    head = _head(ticket)
    result = result_of(ticket)
    claim = _claim_cells(result) if result else {}
    cells = head | claim | {"rowType": "claim"}
    yield [cells.get(name, "") for name in META_HEADER + REQUEST_HEADER + RESPONSE_HEADER] + \
        _labels(cells)
    for line in result.lines.all() if result else []:
        cells = head | claim | _line_cells(line) | {"rowType": "line"}
        for name in CLAIM_AMOUNTS:
            cells[name] = ""
        yield [cells.get(name, "") for name in META_HEADER + REQUEST_HEADER +
               RESPONSE_HEADER] + _labels(cells)


def _tickets(tickets: QuerySet[Ticket]) -> Iterator[Ticket]:
    # The raw answer is not exported (its fields are, from the stored result): leave it
    # undecrypted.
    return (tickets.defer("response").select_related("claim_result")
            .prefetch_related("claim_result__lines").iterator(chunk_size=2000))


def export_rows(tickets: QuerySet[Ticket]) -> Iterator[list[Any]]:
    """Rows for many tickets in flat memory: chunks of 2,000, results and lines prefetched
    per chunk, code descriptions from the per-process cache (no query per row)."""
    for ticket in _tickets(tickets):
        yield from ticket_rows(ticket)


def claim_rows(tickets: QuerySet[Ticket]) -> Iterator[list[Any]]:
    for ticket in _tickets(tickets):
        result = result_of(ticket)
        cells = _head(ticket) | (_claim_cells(result) if result else {})
        labels = _labels(cells)[:2]
        yield [cells.get(name, "") for name in CLAIMS_SHEET[:-2]] + labels


def line_rows(tickets: QuerySet[Ticket]) -> Iterator[list[Any]]:
    for ticket in _tickets(tickets.filter(claim_result__lines__isnull=False).distinct()):
        result = result_of(ticket)
        claim = _claim_cells(result)
        for line in result.lines.all():
            cells = {"ticketId": ticket.pk} | claim | _line_cells(line)
            yield [cells.get(name, "") for name in LINES_SHEET[:-4]] + _labels(cells)


def export_sheets(tickets: QuerySet[Ticket]) -> list[xlsxio.Sheet]:
    return [xlsxio.Sheet("Claims", CLAIMS_SHEET, claim_rows(tickets), EXPORT_KINDS),
            xlsxio.Sheet("Service lines", LINES_SHEET, line_rows(tickets), EXPORT_KINDS)]


EXPORT_KINDS = {"requestedAt": "text"}


EXAMPLE_ROW = {
    "patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "1970-01-02",
    "subscriberId": "A0000000", "subscriberFirstName": "JANE", "subscriberLastName": "DOE",
    "subscriberDob": "1970-01-02", "billingProviderNpi": "1083052872",
    "billingProviderName": "St. Mary's Hospital", "taxId": "999887777",
    "admitDate": "2026-10-01", "totalCharges": "1250.00", "payerId": "AETNA",
    "payerName": "AETNA", "trackingId1": "ACC1001", "trackingId2": "",
}

SPEC = batches.BatchSpec(
    kind="claim_status", cli_name="claim-status", service="integrex", label="Claim status",
    columns=COLUMNS, form_class=forms.ClaimStatusForm, build_request=forms.build_request,
    summary=forms.summary, export_header=EXPORT_HEADER, export_rows=export_rows,
    url_namespace="claims", ticket_url_name="claims:status_detail",
    result_cells_template="claims/_result_cells.html",
    result_headers=["Outcome", "Status", "Billed", "Paid"], numeric_headers=["Billed", "Paid"],
    row_defaults=forms.facility_defaults, account_field="trackingId1",
    rows_select_related=("claim_result",), template_filename="claim-status-template.csv",
    example_row=EXAMPLE_ROW, export_kinds=EXPORT_KINDS, export_sheets=export_sheets,
)
