"""CSV batches of claim status lookups: validation, duplicates, limits, speed, progress."""

from __future__ import annotations

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from claims.export import SPEC
from revcycle.batches import BatchError, create_batch, progress
from revcycle.models import BatchRowError, Ticket

pytestmark = pytest.mark.django_db

HEADER = ("Account Number,Patient First Name,Patient Last Name,Patient DOB,Member ID,DOS,"
          "Payer ID,NPI")


def row(i: int, **over: str) -> str:
    values = {"account": f"ACC{i:05d}", "first": "JANE", "last": f"DOE{i}", "dob": "1970-01-02",
              "member": f"M{i:07d}", "dos": "2026-10-01", "payer": "AETNA",
              "npi": "1083052872"} | over
    return ",".join(values.values())


def make(st_marys, integrex, alice, text: str):
    return create_batch(SPEC, facility=st_marys, connection=integrex, user=alice,
                        filename="claims.csv", text=text)


def test_good_rows_become_tickets_with_documented_request_names(st_marys, integrex, alice,
                                                                 encounter):
    batch = make(st_marys, integrex, alice, "\n".join([HEADER, row(1), row(2, account="ACC1001")]))
    assert batch.total_rows == 2 and batch.ticket_count == 2 and batch.invalid_rows == 0
    tickets = list(batch.tickets.order_by("id"))
    assert tickets[0].request["trackingId1"] == "ACC00001"
    assert tickets[0].request["subscriberId"] == "M0000001"
    assert tickets[0].request["billingProviderName"] == st_marys.name
    assert tickets[0].request["taxId"] == st_marys.tax_id
    assert tickets[0].account_number == "ACC00001" and tickets[0].payer == "AETNA"
    assert tickets[1].encounter == encounter
    assert all(t.state == Ticket.State.QUEUED and t.next_poll_at for t in tickets)
    assert all(t.request_hash for t in tickets)


def test_bad_rows_are_reported_with_the_reason(st_marys, integrex, alice):
    text = "\n".join([HEADER, row(1), row(2, dob="1970-13-45"), row(3, npi="1083052873"),
                      row(4) + ",surplus"])
    batch = make(st_marys, integrex, alice, text)
    assert batch.ticket_count == 1 and batch.invalid_rows == 3
    errors = {e.line_number: e.message for e in BatchRowError.objects.filter(batch=batch)}
    assert "patientDob: '1970-13-45' is not a day of the calendar" in errors[3]
    assert "billingProviderNpi" in errors[4] and "check digit" in errors[4]
    assert "more cells than the header" in errors[5]


def test_a_missing_required_column_refuses_the_file(st_marys, integrex, alice):
    text = "Account Number,Patient First Name,Patient Last Name,Member ID,DOS\nA,B,C,D,2026-10-01"
    with pytest.raises(BatchError, match="patientDob"):
        make(st_marys, integrex, alice, text)


def test_duplicate_rows_collapse_into_one_ticket(st_marys, integrex, alice):
    batch = make(st_marys, integrex, alice, "\n".join([HEADER, row(1), row(1), row(2), row(1)]))
    assert batch.total_rows == 4 and batch.ticket_count == 2 and batch.duplicate_rows == 2
    assert batch.tickets.count() == 2


def test_unknown_headers_are_ignored(st_marys, integrex, alice):
    text = "\n".join([HEADER + ",Favourite Colour", row(1) + ",blue"])
    batch = make(st_marys, integrex, alice, text)
    assert batch.ticket_count == 1
    assert "blue" not in str(batch.tickets.get().request)


def test_common_header_spellings_are_accepted(st_marys, integrex, alice):
    text = ("patient_dob,patientFirstName,Last Name,Subscriber ID,Date of Service,Payer,"
            "Acct Number,Charges\n1970-01-02,JANE,DOE,A1,2026-10-01,BLUE CROSS,77,1250")
    request = make(st_marys, integrex, alice, text).tickets.get().request
    assert request["patientDob"] == "1970-01-02" and request["payerName"] == "BLUE CROSS"
    assert request["trackingId1"] == "77" and request["totalCharges"] == "1250.00"
    assert request["billingProviderNpi"] == st_marys.npi


def test_an_upload_over_the_row_limit_is_refused(st_marys, integrex, alice, settings):
    settings.MAX_BATCH_ROWS = 3
    with pytest.raises(BatchError, match="more than 3 rows"):
        make(st_marys, integrex, alice, "\n".join([HEADER] + [row(i) for i in range(5)]))


def test_creating_thousands_of_rows_takes_a_few_queries(st_marys, integrex, alice):
    text = "\n".join([HEADER] + [row(i) for i in range(3000)] + [row(1, dob="bad")])
    with CaptureQueriesContext(db_connection) as ctx:
        batch = make(st_marys, integrex, alice, text)
    assert batch.ticket_count == 3000 and batch.invalid_rows == 1
    # bulk_create in chunks: SQLite caps the parameters of one INSERT (about 30 rows of
    # tickets), PostgreSQL takes a chunk of 1,000 rows in one; never a query per row.
    limit = 10 if db_connection.vendor == "postgresql" else 3000 // 25
    assert len(ctx.captured_queries) <= limit


def test_progress_counts_done_processing_and_failed(st_marys, integrex, alice):
    batch = make(st_marys, integrex, alice, "\n".join([HEADER] + [row(i) for i in range(4)]))
    ids = list(batch.tickets.order_by("id").values_list("id", flat=True))
    Ticket.objects.filter(pk=ids[0]).update(state=Ticket.State.DONE)
    Ticket.objects.filter(pk=ids[1]).update(state=Ticket.State.FAILED)
    Ticket.objects.filter(pk=ids[2]).update(state=Ticket.State.PROCESSING)
    p = progress(batch)
    assert (p["done"], p["failed"], p["processing"], p["queued"], p["total"]) == (1, 1, 1, 1, 4)
    assert p["is_open"] and p["done_pct"] == 25.0


def test_one_account_with_two_dates_of_service_is_two_lookups(st_marys, integrex, alice):
    batch = make(st_marys, integrex, alice,
                 "\n".join([HEADER, row(1, dos="2026-10-01"), row(1, dos="2026-10-08")]))
    assert (batch.ticket_count, batch.duplicate_rows) == (2, 0)
    requests = [t.request for t in batch.tickets.order_by("id")]
    assert {r["trackingId1"] for r in requests} == {"ACC00001"}
    assert len({str(sorted(r.items())) for r in requests}) == 2  # the dates differ
