"""The invoice ticket: post once, follow to Billed, and never post twice."""

import json
from decimal import Decimal

import requests
import responses

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


def test_the_invoice_is_posted_and_followed_until_billed(api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9", "status": "Pending"})
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)

    run_due()
    invoice.refresh_from_db()
    assert invoice.status == "pending" and invoice.smart_claim_id == "SC9"
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
    api.replace(responses.GET, STATUS, json={"status": "Billed"})
    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.billed_at is not None
    assert invoice.ticket.state == Ticket.State.DONE and invoice.ticket.outcome == "billed"
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert [e.action for e in invoice.events.all()] == ["created", "posted", "status"]


def test_after_a_timeout_it_checks_the_status_and_does_not_post_again(api, active_session, alice):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
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
    assert "not posted again" in invoice.events.get(action="checked before re-post").detail


def test_after_a_timeout_it_posts_again_only_when_smart_has_no_such_invoice(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json={"error": "no invoice INV1500835"})
    invoice = _invoice(active_session, alice)
    run_due()
    api.replace(responses.POST, CLAIMS, status=201, json={"claimId": "SC8"})

    run_due()

    assert [c.request.method for c in api.calls if "/api/" in c.request.url] == [
        "POST", "GET", "POST"]
    invoice.refresh_from_db()
    assert invoice.status == "pending"


def test_a_duplicate_invoice_answer_after_a_timeout_means_it_was_posted(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json={"error": "not yet indexed"})
    invoice = _invoice(active_session, alice)
    run_due()
    api.replace(responses.POST, CLAIMS, status=409, json={"error": "duplicate invoice"})

    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "pending" and invoice.ticket.state == Ticket.State.SUBMITTED


def test_a_worker_killed_mid_post_looks_the_invoice_up_first(api, active_session, alice):
    api.add(responses.GET, STATUS, json={"status": "Billed"})
    api.add(responses.POST, CLAIMS, status=201, json={})
    invoice = _invoice(active_session, alice)
    Ticket.objects.filter(pk=invoice.ticket_id).update(attempts=1)  # an earlier worker died

    run_due()

    assert calls_to(api, "api/claims", "POST") == []
    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.ticket.state == Ticket.State.DONE


def test_an_invoice_smart_refuses_is_marked_refused_with_its_message(api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=400, json={"error": "benefitId 1 is not a benefit"})
    invoice = _invoice(active_session, alice)

    run_due()

    invoice.refresh_from_db()
    assert invoice.status == SmartInvoice.Status.REFUSED
    assert "benefitId 1 is not a benefit" in invoice.last_error
    assert invoice.ticket.state == Ticket.State.FAILED
