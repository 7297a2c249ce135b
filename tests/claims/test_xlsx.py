"""Claim status batches as Excel workbooks: uploaded .xlsx keeps identifiers as text and
reads Excel and US dates; the export is a typed workbook read back with openpyxl."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import pytest
import xlsxwriter

from claims.flow import parse_claim_info, store
from revcycle.models import BatchRowError, Ticket
from tests.claims.helpers import denied_lines

pytestmark = pytest.mark.django_db
UPLOAD = "/claims/status/batches/upload/"
HEADER = ["Account Number", "Patient First Name", "Patient Last Name", "Patient DOB",
          "Member ID", "DOS", "Payer ID", "NPI", "Total Charges"]


def workbook(rows: list[list], sheet: str = "Claims") -> io.BytesIO:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("Notes").write(0, 0, "not this one")
    ws = book.add_worksheet(sheet)
    as_date = book.add_format({"num_format": "m/d/yyyy"})
    ws.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                ws.write_datetime(r, c, value, as_date)
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write_number(r, c, value)
    book.close()
    buffer.seek(0)
    buffer.name = "claims.xlsx"
    return buffer


def test_an_xlsx_upload_keeps_leading_zeros_and_reads_excel_and_us_dates(
        client_for, alice, st_marys, integrex):
    upload = workbook([
        ["00123", "JANE", "DOE", "1/2/1970", "00456", datetime(2026, 10, 1), "AETNA",
         1083052872, 1250.5],
        ["00124", "JOHN", "ROE", "2/30/1970", "00457", "10/01/2026", "AETNA",
         1083052872, 10],
    ])
    response = client_for(alice).post(UPLOAD, {"file": upload, "facility": st_marys.pk,
                                               "connection": integrex.pk, "sheet": "Claims"})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.request["trackingId1"] == "00123" and ticket.request["subscriberId"] == "00456"
    assert ticket.request["patientDob"] == "1970-01-02"
    assert ticket.request["admitDate"] == "2026-10-01"
    assert ticket.request["billingProviderNpi"] == "1083052872"  # no ".0"
    assert str(ticket.amount) == "1250.50"
    error = BatchRowError.objects.get()
    assert error.line_number == 3  # Excel's row number
    assert "patientDob: '2/30/1970' is not a day of the calendar" in error.message


def test_a_sheet_that_is_not_there_is_refused_by_name(client_for, alice, st_marys, integrex):
    response = client_for(alice).post(UPLOAD, {"file": workbook([]), "facility": st_marys.pk,
                                               "connection": integrex.pk, "sheet": "Nope"})
    assert "The workbook has no sheet &#x27;Nope&#x27;; its sheets are Notes, Claims" in (
        response.content.decode())


def test_the_xlsx_export_has_typed_cells_a_claims_sheet_and_a_lines_sheet(
        client_for, alice, st_marys, integrex):
    client = client_for(alice)
    client.post(UPLOAD, {"file": workbook([
        ["00123", "=HYPERLINK(\"x\")", "DOE", "1/2/1970", "00456", datetime(2026, 10, 1),
         "AETNA", 1083052872, 1250]]), "facility": st_marys.pk,
        "connection": integrex.pk, "sheet": "2"})
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome="denied")
    store(ticket, parse_claim_info(denied_lines()))
    response = client.get(f"/claims/status/batches/{ticket.batch_id}/export.csv",
                          {"format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    claims, lines = book["Claims"], book["Service lines"]
    assert claims.freeze_panes == "A2" and lines.freeze_panes == "A2"
    header = [c.value for c in claims[1]]
    row = dict(zip(header, [c for c in claims[2]], strict=True))
    assert row["trackingId1"].value == "00123" and row["trackingId1"].data_type == "s"
    assert row["subscriberId"].value == "00456"
    assert row["totalCharges"].value == 1250 and row["totalCharges"].number_format == "#,##0.00"
    assert row["chargeAmt"].value == 1250
    assert row["admitDate"].value == datetime(2026, 10, 1) and row["admitDate"].is_date
    assert row["request.patientFirstName"].value == "'=HYPERLINK(\"x\")"  # neutralised
    assert claims.max_row == 2 and lines.max_row == 3  # one claim, two service lines
    assert claims.column_dimensions["A"].width >= len("ticketId")
    cells = {str(c.value) for sheet in (claims, lines) for r in sheet.iter_rows()
             for c in r if c.value is not None}
    assert not cells & {"null", "None", "False", "True"}


def test_the_upload_help_lists_column_names_without_the_specifications_typos(
        client_for, alice, integrex):
    body = client_for(alice).get(UPLOAD).content.decode()
    assert "Member ID" in body and "Account Number" in body and ".xlsx" in body
    assert "subscribertd" not in body and "trackingidi" not in body
