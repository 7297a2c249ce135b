"""The invoice ticket: post once, follow to Billed, and never post twice."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.utils import timezone

from revcycle import engine
from revcycle.models import Ticket
from smartlink import flow
from smartlink.models import SmartInvoice
from tests.smartlink.conftest import BASE, calls_to, run_due

CLAIMS = f"{BASE}/api/claims"
STATUS = f"{BASE}/api/claim-status"


def _invoice(active_session, alice, diagnoses=None):
    benefit = active_session.member.benefits.get(benefit_id="93181")
    return flow.create_invoice(
        session=active_session, benefit=benefit, invoice_number="INV1500835",
        lines=[{"code": "CONS01", "description": "Consultation", "quantity": "1",
                "unitPrice": "1500.00", "amount": "1500.00"}],
        diagnoses=[{"code": "J06.9", "description": "Acute upper respiratory infection"}]
        if diagnoses is None else diagnoses,
        copay_amount=Decimal("200"), copay_from_smart=False, user=alice)


def test_the_invoice_ticket_carries_its_total_and_date_for_the_worklist(active_session, alice):
    invoice = _invoice(active_session, alice)
    assert invoice.ticket.amount == Decimal("1500.00")
    assert invoice.ticket.service_date == invoice.invoice_date


def test_the_invoice_is_posted_and_followed_until_billed(api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9", "status": "Pending"})
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)

    run_due()
    invoice.refresh_from_db()
    assert invoice.status == "pending" and invoice.smart_claim_id == "SC9"
    assert invoice.posted_at is not None and invoice.last_error == ""
    body = json.loads(calls_to(api, "api/claims", "POST")[0].request.body)
    assert body == {
        "invoiceNumber": "INV1500835", "visitNumber": "AKHILS001", "benefitId": "93181",
        "memberNumber": "SAMPLETEST502", "patientNumber": "23025764", "sessionId": "62863",
        "providerKey": "SKSP_6122", "invoiceDate": invoice.invoice_date.isoformat(),
        "lines": [{"code": "CONS01", "description": "Consultation", "quantity": "1",
                   "unitPrice": "1500.00", "amount": "1500.00"}],
        "diagnoses": [{"code": "J06.9", "description": "Acute upper respiratory infection"}],
        "totalAmount": "1500.00", "copayAmount": "200"}

    run_due()  # still Pending at Smart
    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == "processing" and ticket.last_error == ""
    api.replace(responses.GET, STATUS, json={"status": "Billed"})
    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.billed_at is not None
    assert invoice.ticket.state == Ticket.State.DONE and invoice.ticket.outcome == "billed"
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert [e.action for e in invoice.events.all()] == ["created", "posted", "status"]
    assert invoice.events.get(action="status").detail == "Smart: Billed."


def spring(status, phrase, message, path="/providerapi-dev/api/claims"):
    """Spring Boot's default error body: the reason phrase in `error`, the text in `message`."""
    return {"timestamp": "2026-01-05T08:00:00.000+00:00", "status": status, "error": phrase,
            "message": message, "path": path}


def _window_over(invoice):
    """As if the lookup window had passed since the post was sent."""
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        sent_at=timezone.now() - timedelta(seconds=flow.lookup_window() + 1))


FAULTS = {"timeout after storing": requests.exceptions.ReadTimeout(),
          "dropped connection after storing": requests.exceptions.ConnectionError()}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_after_an_unknown_outcome_it_looks_the_invoice_up_and_never_posts_twice(
        api, active_session, alice, fault):
    api.add(responses.POST, CLAIMS, body=fault)
    api.add(responses.GET, STATUS, json={"status": "Pending", "claimId": "SC7"})
    invoice = _invoice(active_session, alice)

    run_due()
    invoice.refresh_from_db()
    assert invoice.status == "unknown"
    assert invoice.ticket.state == Ticket.State.QUEUED  # the engine retries

    run_due()

    invoice.refresh_from_db()
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert len(calls_to(api, "api/claim-status")) == 1
    assert invoice.status == "pending" and invoice.posted_at is not None
    assert invoice.ticket.state == Ticket.State.SUBMITTED
    assert invoice.ticket.last_http_status == 200
    checked = invoice.events.get(action="checked before re-post")
    assert checked.detail == "Smart already has it (Pending); not posted again."
    assert checked.raw == {"status": "Pending", "claimId": "SC7"}


def test_a_404_while_smart_indexes_the_invoice_is_looked_up_again_later_not_reposted(
        api, active_session, alice, monkeypatch):
    # The engine waits the longer of its jittered backoff and the flow's 60 s: the lowest
    # jitter keeps the backoff under 60 s, so the wait said is the flow's, every run.
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: low)
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404,
            json=spring(404, "Not Found", "Invoice INV1500835 not found"))
    invoice = _invoice(active_session, alice)
    run_due()

    run_due()  # 404: not listed yet
    run_due()  # 404 again
    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == Ticket.State.QUEUED and ticket.next_poll_at > timezone.now()
    assert ticket.last_http_status == 404 and ticket.last_error.endswith("Retrying in 60 s.")
    # A fifth of the 300 s window between looks, said to the person reading the ticket.
    assert ticket.last_error.startswith(
        "Smart does not list invoice INV1500835 yet; it may have stored it. Looking again in "
        "60 s, before anything is posted again.")
    noted = invoice.events.filter(action="not listed yet").first()
    assert noted.detail == ("Smart does not list invoice INV1500835 yet (Invoice INV1500835 "
                            "not found); looking again in 60 s.")
    assert noted.raw == spring(404, "Not Found", "Invoice INV1500835 not found")
    api.replace(responses.GET, STATUS, json={"status": "Billed", "claimId": "SC7"})
    run_due()

    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert len(calls_to(api, "api/claim-status")) == 3
    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.smart_claim_id == "SC7"
    assert invoice.events.filter(action="not listed yet").count() == 2


def test_after_the_lookup_window_it_posts_again_only_when_smart_still_has_no_such_invoice(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json={"error": "no invoice INV1500835"})
    invoice = _invoice(active_session, alice)
    run_due()
    api.replace(responses.POST, CLAIMS, status=201, json={"claimId": "SC8"})
    _window_over(invoice)

    run_due()

    assert [c.request.method for c in api.calls if "/api/" in c.request.url] == [
        "POST", "GET", "POST"]
    invoice.refresh_from_db()
    assert invoice.status == "pending"


@pytest.mark.parametrize("text", ["Conflict", "duplicate invoice", "Invoice already exists",
                                  ""])
def test_any_409_on_a_repost_means_smart_has_it_and_its_status_is_watched(
        api, active_session, alice, text):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", ""))
    invoice = _invoice(active_session, alice)
    run_due()
    _window_over(invoice)
    api.replace(responses.POST, CLAIMS, status=409, json=spring(409, "Conflict", text))

    run_due()

    invoice.refresh_from_db()
    assert invoice.status != SmartInvoice.Status.REFUSED
    assert invoice.posted_at is not None and invoice.posted_at == invoice.sent_at
    assert invoice.ticket.state == Ticket.State.SUBMITTED
    assert invoice.last_error.startswith("Smart says it has this invoice already (HTTP 409: ")
    assert invoice.last_error.endswith("). Following its status; it counts as posted.")
    noted = invoice.events.get(action="smart has it")
    assert noted.detail.startswith("Re-post answered HTTP 409 (")
    assert noted.detail.endswith("): the earlier post arrived. Not posted again; watching its "
                                 "status.")
    assert noted.raw == spring(409, "Conflict", text)
    api.replace(responses.GET, STATUS, json={"status": "Billed"})
    run_due()
    invoice.refresh_from_db()
    assert invoice.status == "billed"
    assert len(calls_to(api, "api/claims", "POST")) == 2


def test_a_409_on_a_first_post_is_looked_up_and_an_invoice_smart_has_is_followed(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=409, json=spring(409, "Conflict", ""))
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)

    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "pending" and invoice.ticket.state == Ticket.State.SUBMITTED
    assert len(calls_to(api, "api/claims", "POST")) == 1


def test_a_409_on_a_first_post_for_an_invoice_smart_does_not_have_is_refused_with_its_message(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=409,
            json=spring(409, "Conflict", "Session 62863 is not active"))
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)

    run_due()

    invoice.refresh_from_db()
    assert invoice.status == SmartInvoice.Status.REFUSED
    assert invoice.last_error == "Smart refused the invoice: Session 62863 is not active"


def test_smart_no_longer_listing_a_posted_invoice_after_the_window_needs_a_person(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)
    run_due()
    run_due()  # within the window: looked up again later
    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == Ticket.State.SUBMITTED and ticket.last_http_status == 404
    assert ticket.last_error.startswith("Smart does not list invoice INV1500835 yet; it may "
                                        "have stored it. Looking again in 60 s")
    assert invoice.events.filter(action="not listed yet").count() == 1
    _window_over(invoice)

    run_due()

    invoice.refresh_from_db()
    assert invoice.ticket.state == Ticket.State.FAILED
    assert invoice.ticket.last_http_status == 404
    assert "5 min after it was sent" in invoice.ticket.last_error
    gone = invoice.events.get(action="not listed")
    assert gone.detail == "Smart still does not list invoice INV1500835: No invoice"
    assert gone.raw == spring(404, "Not Found", "No invoice")
    assert "do not post it again" in invoice.ticket.last_error
    assert invoice.status == "pending"  # still blocks a second invoice
    assert len(calls_to(api, "api/claims", "POST")) == 1


def test_a_worker_killed_mid_post_looks_the_invoice_up_first(api, active_session, alice):
    api.add(responses.GET, STATUS, json={"status": "Billed"})
    api.add(responses.POST, CLAIMS, status=201, json={})
    invoice = _invoice(active_session, alice)
    Ticket.objects.filter(pk=invoice.ticket_id).update(attempts=1)  # an earlier worker died

    run_due()

    assert calls_to(api, "api/claims", "POST") == []
    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.ticket.state == Ticket.State.DONE
    assert invoice.posted_at is not None


def test_an_invoice_smart_refuses_is_marked_refused_with_its_message(api, active_session, alice):
    body = spring(400, "Bad Request", "benefitId 1 is not a benefit")
    api.add(responses.POST, CLAIMS, status=400, json=body)
    invoice = _invoice(active_session, alice)

    run_due()

    invoice.refresh_from_db()
    assert invoice.status == SmartInvoice.Status.REFUSED
    assert invoice.last_error == "Smart refused the invoice: benefitId 1 is not a benefit"
    assert invoice.ticket.state == Ticket.State.FAILED
    assert invoice.ticket.last_error == "benefitId 1 is not a benefit"
    refused = invoice.events.get(action="refused")
    assert refused.raw == body
    assert refused.detail == "Smart answered HTTP 400: benefitId 1 is not a benefit"


def test_an_invoice_without_a_diagnosis_is_refused_before_anything_is_sent(
        api, active_session, alice):
    with pytest.raises(flow.InvoiceProblem, match="Add the diagnosis"):
        _invoice(active_session, alice, diagnoses=[])

    assert not SmartInvoice.objects.exists() and not Ticket.objects.exists()
    assert [c for c in api.calls if "/api/" in c.request.url] == []
