"""The claim status export: a claim row, then one row per service line, under the
documented names."""

from __future__ import annotations

import csv
import io

import pytest
import responses
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from claims.export import EXPORT_HEADER, export_rows
from claims.flow import parse_claim_info, store
from revcycle.models import AuditEvent, Ticket
from tests.claims.helpers import denied_lines, paid_object

pytestmark = pytest.mark.django_db


def answered(make_ticket, data, outcome: str, **kw) -> Ticket:
    ticket = make_ticket(state=Ticket.State.DONE, outcome=outcome, response=data, **kw)
    store(ticket, parse_claim_info(data))
    return ticket


def read(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_header_uses_the_documented_names():
    for name in ("patientDob", "subscriberId", "billingProviderNpi", "trackingId1",
                 "request.patientFirstName", "request.patientLastName", "patientFirstName",
                 "payerClmNo", "paymentAmt", "svcLine", "procedureCd", "reasonSourceCd3",
                 "authorizationCaseId", "integrexId", "label.reasonSourceCd3"):
        assert name in EXPORT_HEADER
    assert len(EXPORT_HEADER) == len(set(EXPORT_HEADER))


def test_it_emits_a_claim_row_then_one_row_per_service_line(make_ticket):
    denied = answered(make_ticket, denied_lines(), "denied")
    paid = answered(make_ticket, paid_object(), "paid", account_number="ACC2")
    failed = make_ticket(state=Ticket.State.FAILED, outcome="error", last_error="bad data")
    rows = [dict(zip(EXPORT_HEADER, r, strict=True)) for r in
            export_rows(Ticket.objects.order_by("id"))]
    assert [(r["ticketId"], r["rowType"]) for r in rows] == [
        (denied.pk, "claim"), (denied.pk, "line"), (denied.pk, "line"), (paid.pk, "claim"),
        (paid.pk, "line"), (failed.pk, "claim")]
    claim, first, second = rows[0], rows[1], rows[2]
    assert claim["svcLine"] == "" and claim["chargeAmt"] == "1250.00"
    assert first["svcLine"] == "1" and second["svcLine"] == "2"
    assert first["procedureCd"] == "99213" and second["svcLnQty"] == "2"
    assert first["reasonSourceCd3"] == "16" and first["reasonSourceCdDescTxt3"]
    assert first["label.reasonSourceCd3"].startswith("16: ")
    assert first["label.categoryCode"].startswith("F2: ")
    assert first["request.patientFirstName"] == "JANE" and first["patientFirstName"] == "JANE"
    assert first["authorizationCaseId"] == "AUTH-55"
    assert rows[3]["checkNumber"] == "EFT12345" and rows[3]["outcome"] == "paid"
    assert rows[5]["error"] == "bad data" and rows[5]["svcLine"] == ""


def test_claim_amounts_are_counted_once_and_no_cell_says_null_or_false(make_ticket):
    answered(make_ticket, denied_lines(), "denied")
    rows = [dict(zip(EXPORT_HEADER, r, strict=True)) for r in
            export_rows(Ticket.objects.order_by("id"))]
    assert sum(float(r["chargeAmt"] or 0) for r in rows) == 1250.00
    assert all(r["chargeAmt"] == r["paymentAmt"] == r["totalCharges"] == ""
               for r in rows if r["rowType"] == "line")
    cells = {str(v) for r in rows for v in r.values()}
    assert not cells & {"null", "None", "False", "True"}


def test_export_rows_cost_no_query_per_ticket(make_ticket):
    for i in range(30):
        answered(make_ticket, denied_lines(), "denied", account_number=f"A{i}")
    list(export_rows(Ticket.objects.all()))  # warm the code description cache
    with CaptureQueriesContext(db_connection) as ctx:
        rows = list(export_rows(Ticket.objects.all()))
    assert len(rows) == 90
    assert len(ctx.captured_queries) <= 3


def test_the_worklist_export_is_streamed_and_audited(client_for, alice, make_ticket):
    answered(make_ticket, denied_lines(), "denied")
    answered(make_ticket, paid_object(), "paid")
    response = client_for(alice).get("/claims/status/export.csv?outcome=denied&q=DOE")
    assert response.status_code == 200 and response.streaming
    rows = read(response)
    assert len(rows) == 3 and {r["outcome"] for r in rows} == {"denied"}
    event = AuditEvent.objects.get(action="export")
    assert "1 tickets" in event.detail and "outcome=denied" in event.detail
    assert "DOE" not in event.detail


@responses.activate
def test_the_batch_export_has_the_same_columns(client_for, alice, st_marys, integrex):
    client = client_for(alice)
    upload = io.BytesIO(b"patientFirstName,patientLastName,patientDob,subscriberId,admitDate,"
                        b"payerId\nJANE,DOE,1970-01-02,A1,2026-10-01,AETNA\n")
    upload.name = "c.csv"
    response = client.post("/claims/status/batches/upload/",
                           {"file": upload, "facility": st_marys.pk, "connection": integrex.pk})
    assert response.status_code == 302
    export = client.get(response["Location"] + "export.csv")
    text = b"".join(export.streaming_content).decode()
    assert next(csv.reader(io.StringIO(text))) == EXPORT_HEADER
