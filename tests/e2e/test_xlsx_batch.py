"""A biller's day in Excel: an .xlsx batch with leading-zero ids and m/d/yyyy dates
uploaded, run against the sandbox, exported to .xlsx and read back with openpyxl."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl
import pytest
import xlsxwriter

from revcycle.models import Ticket
from tests.e2e.test_claim_status import sandbox_integrex  # noqa: F401 - a fixture

ROWS = 5


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Claims")
    sheet.write_row(0, 0, ["Account Number", "Patient First Name", "Patient Last Name",
                           "Patient DOB", "Member ID", "Date of Service", "Payer ID",
                           "Total Charges"])
    as_date = book.add_format({"num_format": "m/d/yyyy"})
    for i in range(1, ROWS + 1):
        sheet.write_string(i, 0, f"{i:05d}")  # leading zeros, as text
        sheet.write_string(i, 1, f"PAT{i}")
        sheet.write_string(i, 2, "DOE")
        sheet.write_string(i, 3, f"1/{i}/1970")  # a US text date
        sheet.write_string(i, 4, f"00{i:04d}")
        sheet.write_datetime(i, 5, datetime(2026, 10, 1), as_date)  # an Excel date cell
        sheet.write_string(i, 6, "AETNA")
        sheet.write_number(i, 7, 100 + i)
    book.close()
    return buffer.getvalue()


@pytest.mark.e2e
def test_an_xlsx_batch_runs_and_exports_to_a_typed_workbook(
        page, login, alice, sandbox_integrex, engine_worker, tmp_path):  # noqa: F811
    login(alice)
    page.goto("/claims/status/batches/upload/")
    page.set_input_files("input[name=file]", files=[{
        "name": "claims.xlsx", "buffer": _xlsx(),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("button[type=submit]")
    page.wait_for_url("**/claims/status/batches/*/")
    # 45 s, as in test_claim_status.py: each lookup answered 1 s after its POST, then a poll.
    page.wait_for_selector("[data-testid=batch-finished]", timeout=45_000)
    assert page.inner_text("[data-count=total]") == str(ROWS)
    assert Ticket.objects.filter(state=Ticket.State.DONE).count() == ROWS

    with page.expect_download() as download_info:
        page.click("text=Export results (.xlsx)")
    path = tmp_path / "export.xlsx"
    download_info.value.save_as(path)
    book = openpyxl.load_workbook(path)
    claims = book["Claims"]
    header = [c.value for c in claims[1]]
    rows = [dict(zip(header, r, strict=True)) for r in claims.iter_rows(min_row=2)]
    assert sorted(r["trackingId1"].value for r in rows) == [f"{i:05d}" for i in
                                                            range(1, ROWS + 1)]
    assert all(r["trackingId1"].data_type == "s" for r in rows)
    first = next(r for r in rows if r["trackingId1"].value == "00001")
    assert first["subscriberId"].value == "000001"
    assert first["patientDob"].value == datetime(1970, 1, 1) and first["patientDob"].is_date
    assert first["admitDate"].value == datetime(2026, 10, 1)
    assert first["totalCharges"].value == 101 and first["totalCharges"].data_type == "n"
    assert first["outcome"].value in {"paid", "denied", "pending", "rejected", "not_found"}
    assert claims.freeze_panes == "A2" and "Service lines" in book.sheetnames
