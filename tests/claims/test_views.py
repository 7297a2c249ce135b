"""Claim status pages: lookup, worklist, detail, check again, batches, facility isolation."""

from __future__ import annotations

import io

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from claims.flow import parse_claim_info, store
from revcycle.batches import create_batch, get_spec
from revcycle.models import AuditEvent, Batch, Ticket
from tests.claims.helpers import denied_lines, paid_object
from tests.conftest import POLL

pytestmark = pytest.mark.django_db


def answered(make_ticket, data, outcome: str, **kw) -> Ticket:
    ticket = make_ticket(state=Ticket.State.DONE, outcome=outcome, response=data, **kw)
    store(ticket, parse_claim_info(data))
    return ticket


def test_the_lookup_is_prefilled_from_the_account(client_for, alice, encounter, integrex):
    response = client_for(alice).get("/claims/status/new/?account=ACC1001")
    form = response.context["form"]
    assert form.initial["subscriberId"] == "A0000000"
    assert form.initial["billingProviderNpi"] == "1083052872"
    assert form.initial["trackingId1"] == "ACC1001"


def test_the_lookup_explains_bad_values(client_for, alice, integrex):
    response = client_for(alice).post("/claims/status/new/", {
        "patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "02/30/1970",
        "subscriberId": "A1", "billingProviderNpi": "1083052873", "admitDate": "2026-10-01",
        "totalCharges": "12,50x", "payerId": "AETNA"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "yyyy-mm-dd" in errors["patientDob"][0]
    assert "check digit" in errors["billingProviderNpi"][0]
    assert "1250.00" in errors["totalCharges"][0]
    assert Ticket.objects.count() == 0


def test_a_valid_lookup_queues_a_ticket_and_shows_it(client_for, alice, encounter, integrex):
    response = client_for(alice).post("/claims/status/new/?account=ACC1001", {
        "patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "1970-01-02",
        "subscriberId": "A0000000", "billingProviderNpi": "1083052872",
        "admitDate": "2026-10-01", "payerId": "AETNA", "trackingId1": "ACC1001"})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/claims/status/{ticket.pk}/"
    assert ticket.encounter == encounter and ticket.connection == integrex
    assert ticket.request["billingProviderName"] == "St. Mary's Hospital"
    page = client_for(alice).get(response["Location"])
    assert b'hx-trigger="every 2s"' in page.content


def test_a_denied_claim_shows_its_reasons_with_descriptions(client_for, alice, make_ticket):
    ticket = answered(make_ticket, denied_lines(), "denied")
    response = client_for(alice).get(f"/claims/status/{ticket.pk}/")
    html = response.content.decode()
    assert "Denied" in html and "PCN-778899" in html
    assert "Claim lacks information" in html  # the payer's CARC text
    assert "N290" in html and "UHC77" in html
    assert "F2: " in html
    assert "every 2s" not in html
    assert "Raw answer" not in html  # admins only
    assert AuditEvent.objects.filter(action="view", object_id=str(ticket.pk)).exists()


def test_admins_see_the_raw_answer(client_for, ada, make_ticket):
    ticket = answered(make_ticket, paid_object(), "paid")
    html = client_for(ada).get(f"/claims/status/{ticket.pk}/").content.decode()
    assert "Raw answer" in html and "EFT12345" in html


def test_not_found_tells_the_biller_what_to_do(client_for, alice, make_ticket):
    ticket = answered(make_ticket, [], "not_found")
    html = client_for(alice).get(f"/claims/status/{ticket.pk}/").content.decode()
    assert "Widen the date-of-service window" in html and "member id" in html


def test_bob_gets_404_on_st_marys_ticket_and_sees_none_of_them(client_for, bob, make_ticket):
    ticket = answered(make_ticket, denied_lines(), "denied")
    client = client_for(bob)
    assert client.get(f"/claims/status/{ticket.pk}/").status_code == 404
    assert client.post(f"/claims/status/{ticket.pk}/check-again/").status_code == 404
    assert "ACC1001" not in client.get("/claims/").content.decode()
    export = b"".join(client.get("/claims/status/export.csv").streaming_content).decode()
    assert len(export.splitlines()) == 1
    batch = Batch.objects.create(kind="claim_status", facility=ticket.facility,
                                 connection=ticket.connection)
    assert client.get(f"/claims/status/batches/{batch.pk}/").status_code == 404
    assert client.get(f"/claims/status/batches/{batch.pk}/export.csv").status_code == 404


def test_the_worklist_filters_and_costs_the_same_queries_per_page(client_for, alice,
                                                                  make_ticket):
    for i in range(5):
        answered(make_ticket, denied_lines(), "denied", account_number=f"D{i}")
    answered(make_ticket, paid_object(), "paid", account_number="P1", payer="CIGNA")
    client = client_for(alice)
    client.get("/claims/")
    with CaptureQueriesContext(db_connection) as few:
        client.get("/claims/?outcome=denied")
    for i in range(20):
        answered(make_ticket, denied_lines(), "denied", account_number=f"E{i}")
    with CaptureQueriesContext(db_connection) as many:
        response = client.get("/claims/?outcome=denied")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(response.context["page"].object_list) == 25
    only_paid = client.get("/claims/?payer=cigna").context["page"].object_list
    assert [t.account_number for t in only_paid] == ["P1"]
    assert [t.account_number for t in client.get("/claims/?q=E1").context["page"]][:1] == ["E19"]


def test_the_worklist_polls_only_while_a_visible_row_is_open(client_for, alice, make_ticket):
    done = answered(make_ticket, paid_object(), "paid")
    client = client_for(alice)
    assert b"every 2s" not in client.get("/claims/").content
    make_ticket(account_number="OPEN1")
    fragment = client.get("/claims/", **POLL)
    assert b"every 2s" in fragment.content and b"<html" not in fragment.content
    assert b"every 2s" not in client.get(f"/claims/?outcome=paid&q={done.account_number}").content


def test_check_again_requeues_finished_rows_by_post_only(client_for, alice, make_ticket):
    first = answered(make_ticket, denied_lines(), "denied")
    second = answered(make_ticket, paid_object(), "paid")
    running = make_ticket()
    client = client_for(alice)
    assert client.get(f"/claims/status/{first.pk}/check-again/").status_code == 405
    response = client.post("/claims/status/check-again/",
                           {"ids": [first.pk, second.pk, running.pk], "next": "/claims/"})
    assert response.status_code == 302 and response["Location"] == "/claims/"
    states = dict(Ticket.objects.values_list("pk", "state"))
    assert states[first.pk] == states[second.pk] == Ticket.State.QUEUED


def test_the_upload_page_reports_invalid_rows_and_offers_them_as_csv(client_for, alice,
                                                                    st_marys, integrex):
    client = client_for(alice)
    upload = io.BytesIO(b"patientFirstName,patientLastName,patientDob,subscriberId,admitDate,"
                        b"payerId\nJANE,DOE,1970-01-02,A1,2026-10-01,AETNA\n"
                        b"JOHN,ROE,1970-99-01,A2,2026-10-01,AETNA\n")
    upload.name = "c.csv"
    response = client.post("/claims/status/batches/upload/",
                           {"file": upload, "facility": st_marys.pk, "connection": integrex.pk})
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "1 row could not be sent" in html and "every 2s" in html
    errors = client.get(response["Location"] + "invalid-rows.csv")
    text = b"".join(errors.streaming_content).decode()
    assert "patientDob: '1970-99-01' is not a day of the calendar" in text and "JOHN" in text
    template = b"".join(client.get("/claims/status/batches/template.csv").streaming_content)
    assert template.decode().splitlines()[0].startswith('"patientFirstName","patientLastName"')


def test_a_file_without_required_columns_is_refused_clearly(client_for, alice, st_marys,
                                                           integrex):
    upload = io.BytesIO(b"Account Number,Member ID\n1,2\n")
    upload.name = "c.csv"
    response = client_for(alice).post("/claims/status/batches/upload/", {
        "file": upload, "facility": st_marys.pk, "connection": integrex.pk})
    assert response.status_code == 200
    assert "lacks required column(s): patientFirstName" in response.content.decode()


def test_managers_see_every_batch_and_billers_their_own(client_for, alice, maya, st_marys,
                                                       integrex):
    spec = get_spec("claim-status")
    text = "patientFirstName,patientLastName,patientDob,subscriberId,admitDate,payerId\n" \
           "JANE,DOE,1970-01-02,A1,2026-10-01,AETNA\n"
    mine = create_batch(spec, facility=st_marys, connection=integrex, user=maya,
                        filename="m.csv", text=text)
    theirs = create_batch(spec, facility=st_marys, connection=integrex, user=alice,
                          filename="a.csv", text=text)
    assert client_for(alice).get(f"/claims/status/batches/{mine.pk}/").status_code == 404
    assert client_for(alice).get(f"/claims/status/batches/{theirs.pk}/").status_code == 200
    listed = client_for(maya).get("/claims/status/batches/").context["page"].object_list
    assert {b.pk for b in listed} == {mine.pk, theirs.pk}


def test_a_lookup_waiting_on_a_15_second_interval_polls_just_after_the_engine_looks(
        client_for, alice, make_ticket):
    from datetime import timedelta

    from django.utils import timezone

    ticket = make_ticket(state="processing", next_poll_at=timezone.now() + timedelta(seconds=15))
    poll = client_for(alice).get(f"/claims/status/{ticket.pk}/", **POLL)
    assert poll.status_code == 200
    assert b'hx-trigger="every 16s"' in poll.content
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome="paid", next_poll_at=None)
    final = client_for(alice).get(f"/claims/status/{ticket.pk}/", **POLL)
    assert final.status_code == 286 and b"hx-trigger" not in final.content
