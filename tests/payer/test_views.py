from __future__ import annotations

import csv
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils.html import escape

from payer.models import PayerClaim
from revcycle.models import AuditEvent
from tests.conftest import POLL
from tests.payer.helpers import BODY, queue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_pump():
    with mock.patch("revcycle.engine.kick", autospec=True) as kick:
        yield kick


def _form_data(payer, st_marys, encounter, **changes):
    data = {"reference": "RC-FORM1", "connection": payer.pk, "facility": st_marys.pk,
            "encounter": encounter.pk, "patient_name": "JANE DOE", "insurance_id": "BC-789-456",
            "diagnosis_code": "S72.001A", "amount": "1250.00", "procedure_code": "0042T",
            "priority": "high", "date_of_service": "2026-01-05"}
    data.update(changes)
    return data


def test_the_form_is_prefilled_from_the_account(client_for, alice, payer, encounter):
    response = client_for(alice).get("/claims/payer/new/", {"account": "ACC1001"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["patient_name"] == "JANE DOE"
    assert form.initial["insurance_id"] == "A0000000"
    assert form.initial["amount"] == Decimal("1250.00")
    assert form.initial["patient_id"] == "ACC1001"
    assert form.initial["provider_id"] == "PROV-001"


def test_bob_cannot_prefill_from_another_facilitys_account(client_for, bob, payer, encounter):
    response = client_for(bob).get("/claims/payer/new/", {"account": "ACC1001"})
    assert response.context["encounter"] is None
    assert b"JANE" not in response.content


def test_posting_the_form_queues_one_claim_and_kicks_the_engine(
        client_for, alice, payer, st_marys, encounter, no_pump):
    client = client_for(alice)
    data = _form_data(payer, st_marys, encounter)
    response = client.post("/claims/payer/new/", data)
    claim = PayerClaim.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/claims/payer/{claim.pk}/"
    assert claim.ticket.request["diagnosis_code"] == "S72.001A"
    assert claim.ticket.request["procedure_code"] == "0042T"
    assert claim.encounter == encounter
    no_pump.assert_called_once()
    assert AuditEvent.objects.filter(action="submit", object_id=str(claim.pk)).exists()
    # A double click posts the same form again: still one claim.
    again = client.post("/claims/payer/new/", data)
    assert again["Location"] == f"/claims/payer/{claim.pk}/"
    assert PayerClaim.objects.count() == 1


def test_an_identical_claim_in_a_new_form_is_stopped_for_billers(
        client_for, alice, payer, st_marys, encounter):
    client = client_for(alice)
    client.post("/claims/payer/new/", _form_data(payer, st_marys, encounter))
    response = client.post("/claims/payer/new/", _form_data(payer, st_marys, encounter,
                                                             reference="RC-FORM2",
                                                             submit_anyway="on"))
    assert response.status_code == 200
    assert b"An identical claim" in response.content
    assert PayerClaim.objects.count() == 1


def test_bob_gets_404_for_another_facilitys_claim(client_for, bob, alice, payer, encounter):
    claim = queue(payer, encounter, alice)
    client = client_for(bob)
    assert client.get(f"/claims/payer/{claim.pk}/").status_code == 404
    assert client.post(f"/claims/payer/{claim.pk}/found/", {"claim_id": "X"}).status_code == 404
    listing = client.get("/claims/payer/")
    assert claim.reference.encode() not in listing.content


def test_the_claim_page_is_an_audited_view_and_its_fragment_polls_until_final(
        client_for, alice, payer, encounter):
    claim = queue(payer, encounter, alice)
    client = client_for(alice)
    page = client.get(f"/claims/payer/{claim.pk}/")
    assert page.status_code == 200
    assert b'hx-trigger="every 2s"' in page.content
    assert AuditEvent.objects.filter(action="view", object_id=str(claim.pk)).count() == 1
    fragment = client.get(f"/claims/payer/{claim.pk}/", **POLL)
    assert fragment.status_code == 200
    assert b"<h1>" not in fragment.content
    PayerClaim.objects.filter(pk=claim.pk).update(status="approved",
                                                  expected_payment=Decimal("1000.00"))
    final = client.get(f"/claims/payer/{claim.pk}/", **POLL)
    assert final.status_code == 286  # htmx: stop polling
    assert b"every 2s" not in final.content
    assert b"$1,000.00" in final.content
    assert AuditEvent.objects.filter(action="view", object_id=str(claim.pk)).count() == 1


def test_only_managers_may_resend_an_unknown_outcome(client_for, alice, maya, payer, encounter):
    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="unknown")
    assert client_for(alice).post(f"/claims/payer/{claim.pk}/resend/").status_code == 403
    page = client_for(alice).get(f"/claims/payer/{claim.pk}/")
    assert b"Outcome unknown" in page.content and b'id="resend"' not in page.content
    response = client_for(maya).post(f"/claims/payer/{claim.pk}/resend/")
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == "queued" and claim.resend_confirmed_by == maya


def test_the_list_filters_and_totals(client_for, alice, payer, encounter):
    approved = queue(payer, encounter, alice, reference="RC-A")
    PayerClaim.objects.filter(pk=approved.pk).update(
        status="approved", expected_payment=Decimal("1000.00"),
        patient_responsibility=Decimal("250.00"))
    queued = queue(payer, encounter, alice, reference="RC-B", body=dict(BODY, amount="99.50"))
    refused = queue(payer, encounter, alice, reference="RC-C", body=dict(BODY, amount="7.00"))
    PayerClaim.objects.filter(pk=refused.pk).update(status="error")
    client = client_for(alice)
    # Billed counts only what the payer received: the queued and refused claims are not.
    assert client.get("/claims/payer/").context["totals"]["billed"] == Decimal("1250.00")
    PayerClaim.objects.filter(pk=queued.pk).update(status="under_review")
    everything = client.get("/claims/payer/")
    assert everything.context["totals"] == {"billed": Decimal("1349.50"),
                                            "expected": Decimal("1000.00"),
                                            "patient": Decimal("250.00")}
    only = client.get("/claims/payer/", {"status": "approved", "connection": payer.pk})
    assert [c.reference for c in only.context["page"]] == ["RC-A"]
    assert client.get("/claims/payer/", {"from": "2000-01-01", "to": "2000-01-02"}
                      ).context["count"] == 0


def test_the_export_uses_the_guides_names_and_is_audited(client_for, alice, payer, encounter):
    queue(payer, encounter, alice)
    response = client_for(alice).get("/claims/payer/export.csv", {"status": "queued"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:8] == ["claim_id", "status", "patient_name", "insurance_id", "patient_id",
                           "diagnosis_code", "procedure_code", "amount"]
    assert rows[1][3] == "BC-789-456"
    event = AuditEvent.objects.get(action="export")
    assert "1 rows" in event.detail and "BC-789" not in event.detail


def test_a_claim_under_review_polls_every_30_seconds_not_every_2(
        client_for, alice, payer, encounter):
    claim = queue(payer, encounter, alice)
    client = client_for(alice)
    assert b'hx-trigger="every 2s"' in client.get(f"/claims/payer/{claim.pk}/").content
    PayerClaim.objects.filter(pk=claim.pk).update(status="under_review")
    poll = client.get(f"/claims/payer/{claim.pk}/", **POLL)
    assert poll.status_code == 200
    assert b'hx-trigger="every 30s"' in poll.content and b'"X-Poll": "1"' in poll.content


def _refused(payer, encounter, alice):
    import responses as rsps

    from tests.payer.helpers import BASE, NOT_FOUND, queue, step

    with rsps.RequestsMock() as mock:
        mock.post(f"{BASE}/claims/", json=NOT_FOUND, status=404)
        claim = queue(payer, encounter, alice)
        step(claim)
    assert (claim.status, claim.http_status, claim.error_code) == (
        "error", 404, "INSURANCE_NOT_FOUND")
    return claim


def test_check_again_from_the_worklist_keeps_a_refused_claim_refused(
        client_for, alice, payer, encounter):
    import responses as rsps

    from revcycle.models import Ticket
    from tests.payer.helpers import step

    claim = _refused(payer, encounter, alice)
    client = client_for(alice)
    with mock.patch("followup.views.engine.kick"):
        client.post(reverse("followup:act"), {"action": "recheck", "ticket": claim.ticket_id})
    with rsps.RequestsMock():  # no call may reach the payer: nothing to look up or re-send
        step(claim)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (claim.status, claim.http_status, claim.error_code) == (
        "error", 404, "INSURANCE_NOT_FOUND")
    assert (ticket.state, ticket.outcome, ticket.last_http_status) == ("done", "error", 404)
    [note] = claim.events.filter(message__contains="nothing to look up")
    assert (note.status, note.source, note.message) == (
        "error", "person", "Checked again: the payer refused this claim and gave it no claim "
        "id, so there is nothing to look up and it was not re-sent. Use \"Correct and resend\" "
        "to send a corrected copy.")
    page = client.get(reverse("payer:detail", args=[claim.pk])).content.decode()
    assert "Outcome unknown" not in page
    assert 'id="correct-resend"' in page
    assert "INSURANCE_NOT_FOUND" in page


def test_check_again_on_a_claim_with_a_payer_id_looks_it_up(client_for, alice, payer, encounter):
    import responses as rsps

    from revcycle import engine
    from tests.payer.helpers import APPROVED, BASE, UNDER_REVIEW, queue, step

    with rsps.RequestsMock() as mock:
        mock.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
        claim = queue(payer, encounter, alice)
        step(claim)
    from revcycle.models import Ticket

    Ticket.objects.filter(pk=claim.ticket_id).update(state="failed")
    engine.check_again(Ticket.objects.get(pk=claim.ticket_id))
    approved = dict(APPROVED, claim=dict(APPROVED["claim"], claim_id=claim.claim_id))
    with rsps.RequestsMock() as mock:
        mock.get(f"{BASE}/claims/{claim.claim_id}/", json=approved)
        step(claim)  # submit: it has a payer id, so only a lookup follows
        step(claim)
        assert [c.request.method for c in mock.calls] == ["GET"]
    assert claim.status == "approved"


def test_correct_and_resend_prefills_a_new_claim_with_its_own_reference(
        client_for, alice, payer, encounter):
    claim = _refused(payer, encounter, alice)
    page = client_for(alice).get(reverse("payer:new") + f"?from={claim.pk}").content.decode()
    assert 'value="BC-789-456"' in page
    assert 'value="JANE DOE"' in page
    assert claim.reference not in page


def test_correct_and_resend_does_not_copy_another_facilitys_claim(
        client_for, alice, bob, payer, encounter):
    claim = _refused(payer, encounter, alice)
    response = client_for(bob).get(reverse("payer:new") + f"?from={claim.pk}")
    assert response.status_code == 404
    assert b"BC-789-456" not in response.content


def test_a_refused_code_says_why_once(client_for, alice, payer, st_marys, encounter):
    response = client_for(alice).post("/claims/payer/new/", _form_data(
        payer, st_marys, encounter, diagnosis_code="E11", procedure_code="12"))
    text = response.content.decode()
    assert response.status_code == 200 and not PayerClaim.objects.exists()
    [diagnosis_error] = response.context["form"].errors["diagnosis_code"]
    [procedure_error] = response.context["form"].errors["procedure_code"]
    assert text.count(escape(diagnosis_error)) == 1
    assert text.count(escape(procedure_error)) == 1
    # The box that checks codes as they are typed is not asked on load: its answer would
    # repeat the message.
    assert 'hx-trigger="load, input changed delay:300ms from:#id_diagnosis_code' not in text
    assert 'hx-trigger="input changed delay:300ms from:#id_diagnosis_code' in text
