"""The invoice ticket: post once, follow to Billed, and never post twice."""

import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.utils import timezone

from revcycle import engine
from revcycle.models import Ticket
from smartlink import flow
from smartlink.models import SmartFacility, SmartInvoice
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
    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert (ticket.state, ticket.remote_id, ticket.last_http_status) == ("submitted", "SC9", 201)
    assert invoice.events.get(action="posted").detail == \
        "Smart accepted invoice INV1500835 (claim SC9)."
    posted = calls_to(api, "api/claims", "POST")[0].request
    # The document spells the session `sesionId`; both spellings are sent.
    assert parse_qs(urlsplit(posted.url).query) == {
        "patientNumber": ["23025764"], "sesionId": ["62863"], "sessionId": ["62863"]}
    body = json.loads(posted.body)
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
    assert ticket.last_http_status == 200 and ticket.polls == 1
    api.replace(responses.GET, STATUS, json={"status": "Billed"})
    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "billed" and invoice.billed_at is not None
    assert invoice.ticket.state == Ticket.State.DONE and invoice.ticket.outcome == "billed"
    # Smart's final answer is kept on the ticket as it came.
    assert invoice.ticket.response == {"status": "Billed"}
    assert invoice.ticket.last_http_status == 200
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
    assert invoice.last_error.endswith("Smart is asked for the invoice before any re-post; "
                                       "until then it counts as posted.")
    assert invoice.events.get(action="post unknown").detail in (
        "The service took too long to answer; it may still have acted on the request. Will "
        "look it up before re-posting.",
        "The connection dropped; the service may or may not have received the request. Will "
        "look it up before re-posting.")
    assert invoice.ticket.state == Ticket.State.QUEUED  # the engine retries

    run_due()

    invoice.refresh_from_db()
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert len(calls_to(api, "api/claim-status")) == 1
    assert invoice.status == "pending" and invoice.posted_at is not None
    assert invoice.last_error == "" and invoice.smart_claim_id == "SC7"
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
    assert (invoice.ticket.last_http_status, invoice.ticket.remote_id) == (409, "INV1500835")
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
    assert invoice.ticket.last_error == (
        "Smart still does not list invoice INV1500835 5 min after it was sent (No invoice). "
        "Call Smart; do not post it again.")
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


# The invoice as recorded, its ticket, and the calls that look it up -----------------------


def _two_lines():
    return [{"code": "CONS01", "description": "Consultation", "quantity": "1",
             "unitPrice": "1500.00", "amount": "1500.00"},
            {"code": "LAB22", "description": "Full blood count", "quantity": "2",
             "unitPrice": "750.50", "amount": "1501.00"}]


def test_an_invoice_records_its_visit_benefit_and_amounts_and_queues_one_ticket(
        active_session, alice, smart, st_marys, encounter):
    active_session.encounter = encounter
    active_session.save()
    benefit = active_session.member.benefits.get(benefit_id="93181")
    diagnoses = [{"code": "J06.9", "description": "Acute upper respiratory infection"}]

    made = flow.create_invoice(
        session=active_session, benefit=benefit, invoice_number="INV1500835",
        lines=_two_lines(), diagnoses=diagnoses, copay_amount=Decimal("200"),
        copay_from_smart=True, user=alice)

    invoice = SmartInvoice.objects.get()
    assert made.pk == invoice.pk
    assert (invoice.connection, invoice.facility, invoice.session, invoice.smart_benefit) == (
        smart, st_marys, active_session, benefit)
    assert (invoice.invoice_number, invoice.visit_number, invoice.patient_number,
            invoice.member_number) == ("INV1500835", "AKHILS001", "23025764", "SAMPLETEST502")
    assert (invoice.benefit_id, invoice.benefit_name, invoice.benefit_balance) == (
        "93181", "OUTPATIENT", Decimal("5000.00"))
    assert invoice.lines == _two_lines() and invoice.diagnoses == diagnoses
    assert (invoice.total_amount, invoice.copay_amount, invoice.copay_from_smart) == (
        Decimal("3001.00"), Decimal("200.00"), True)
    assert (invoice.status, invoice.diagnosis_pending, invoice.override_reason,
            invoice.created_by) == ("queued", False, "", alice)
    ticket = Ticket.objects.get()
    assert invoice.ticket_id == ticket.pk
    assert (ticket.kind, ticket.state, ticket.facility, ticket.connection, ticket.encounter,
            ticket.created_by) == (flow.KIND, "queued", st_marys, smart, encounter, alice)
    assert ticket.request == {"invoice_id": invoice.pk, "body": {
        "invoiceNumber": "INV1500835", "visitNumber": "AKHILS001", "benefitId": "93181",
        "memberNumber": "SAMPLETEST502", "patientNumber": "23025764", "sessionId": "62863",
        "providerKey": "SKSP_6122", "invoiceDate": invoice.invoice_date.isoformat(),
        "lines": _two_lines(), "diagnoses": diagnoses, "totalAmount": "3001.00",
        "copayAmount": "200"}}
    assert (ticket.account_number, ticket.patient_name, ticket.payer) == (
        "AKHILS001", "AMINA OTIENO", "BRITAM")
    assert (ticket.amount, ticket.service_date) == (Decimal("3001.00"), invoice.invoice_date)
    assert ticket.next_poll_at is not None and ticket.next_poll_at <= timezone.now()
    assert [(e.action, e.detail, e.user) for e in invoice.events.all()] == [
        ("created", "Invoice INV1500835: 2 line(s), total 3001.00, co-pay 200, "
                    "1 diagnosis(es).", alice)]


def test_an_invoice_for_a_member_without_an_insurer_names_smart_as_the_payer(
        active_session, alice):
    active_session.member.__class__.objects.filter(pk=active_session.member.pk).update(
        insurer="")
    active_session.refresh_from_db()

    invoice = _invoice(active_session, alice)

    assert Ticket.objects.get(pk=invoice.ticket_id).payer == "Smart"


def test_a_second_invoice_allowed_by_a_manager_notes_the_visit_benefit_and_reason(
        active_session, alice, maya):
    _invoice(active_session, alice)
    benefit = active_session.member.benefits.get(benefit_id="93181")

    second = flow.create_invoice(
        session=active_session, benefit=benefit, invoice_number="INV2", lines=_two_lines(),
        diagnoses=[{"code": "J06.9", "description": ""}], copay_amount=Decimal("0"),
        copay_from_smart=False, user=maya, override_reason="First invoice was for the wrong day")

    assert SmartInvoice.objects.get(pk=second.pk).override_reason == \
        "First invoice was for the wrong day"
    assert [(e.action, e.detail, e.user) for e in second.events.all()] == [
        ("created", "Invoice INV2: 2 line(s), total 3001.00, co-pay 0, 1 diagnosis(es).", maya),
        ("duplicate override", "Second invoice on visit AKHILS001 benefit 93181 allowed: "
                               "First invoice was for the wrong day", maya)]


def test_without_a_diagnosis_the_facility_without_the_arrangement_gets_the_whole_reason(
        active_session, alice):
    with pytest.raises(flow.InvoiceProblem) as refused:
        _invoice(active_session, alice, diagnoses=[])

    assert refused.value.message == (
        "Add the diagnosis: every invoice to Smart carries its diagnosis, and St. Mary's "
        "Hospital has no arrangement with Smart to send it after the visit.")
    assert str(refused.value) == refused.value.message


def test_with_the_late_diagnosis_arrangement_an_invoice_without_one_is_queued_as_pending(
        active_session, alice, late_diagnosis):
    invoice = _invoice(active_session, alice, diagnoses=[])

    invoice = SmartInvoice.objects.get(pk=invoice.pk)
    assert invoice.diagnosis_pending and invoice.diagnoses == []
    assert invoice.ticket.state == Ticket.State.QUEUED
    assert invoice.events.get(action="created").detail.endswith(", 0 diagnosis(es).")


def test_smart_is_asked_for_the_invoice_by_its_number_member_session_and_visit(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)
    run_due()

    run_due()  # the lookup before any re-post
    run_due()  # the status poll

    asked = calls_to(api, "api/claim-status", "GET")
    assert len(asked) == 2
    for call in asked:
        assert parse_qs(urlsplit(call.request.url).query) == {
            "invoiceNumber": ["INV1500835"], "memberNumber": ["SAMPLETEST502"],
            "sessionId": ["62863"], "visitNumber": ["AKHILS001"]}
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert SmartInvoice.objects.get(pk=invoice.pk).status == "pending"


@pytest.mark.parametrize("first_post", ["timeout", "409"])
def test_every_call_to_smart_for_an_invoice_is_logged_with_its_ticket(
        api, active_session, alice, caplog, first_post):
    # The log line is how a call seen at Smart is traced back to the ticket that made it.
    if first_post == "timeout":
        api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    else:
        api.add(responses.POST, CLAIMS, status=409, json=spring(409, "Conflict", ""))
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)

    with caplog.at_level("INFO", logger="revcycle.api"):
        for _ in range(3):
            run_due()

    logged = [r.args for r in caplog.records if r.name == "revcycle.api"]
    paths = [args[1] for args in logged]
    assert "api/claim-status" in paths and paths.count("api/claim-status") >= 2
    assert {args[-1] for args in logged} == {invoice.ticket_id}


def test_the_lookup_window_is_five_minutes_unless_the_setting_says_otherwise(settings):
    assert flow.lookup_window() == 300.0
    settings.SMART_LOOKUP_WINDOW_SECONDS = 30
    assert flow.lookup_window() == 30.0


def test_a_404_after_the_lookup_window_set_by_the_setting_needs_a_person(
        api, active_session, alice, settings):
    settings.SMART_LOOKUP_WINDOW_SECONDS = 3600
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)
    run_due()
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        sent_at=timezone.now() - timedelta(seconds=3500))
    run_due()  # 100 s left of the hour: not listed yet
    assert Ticket.objects.get(pk=invoice.ticket_id).state == Ticket.State.SUBMITTED
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        sent_at=timezone.now() - timedelta(seconds=3700))

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == Ticket.State.FAILED
    assert "INV1500835 60 min after it was sent" in ticket.last_error


# Checking again, the ticket's page ----------------------------------------------------------


@pytest.mark.parametrize("state", ["done", "failed", "expired"])
def test_check_now_sends_a_stopped_ticket_again_and_notes_who_asked(
        active_session, alice, state):
    invoice = _invoice(active_session, alice)
    Ticket.objects.filter(pk=invoice.ticket_id).update(
        state=state, attempts=3, next_poll_at=timezone.now() + timedelta(hours=1))
    invoice = SmartInvoice.objects.select_related("ticket").get(pk=invoice.pk)

    assert flow.check_now(invoice, alice) is True

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == "queued" and ticket.attempts == 0
    assert ticket.next_poll_at <= timezone.now()
    assert [(e.action, e.detail, e.user) for e in invoice.events.filter(
        action="check requested")] == [("check requested", "Status check requested.", alice)]


@pytest.mark.parametrize("state", ["queued", "submitted", "processing"])
def test_check_now_brings_an_open_tickets_next_look_forward_without_resetting_it(
        active_session, alice, state):
    invoice = _invoice(active_session, alice)
    later = timezone.now() + timedelta(hours=1)
    Ticket.objects.filter(pk=invoice.ticket_id).update(state=state, attempts=2, next_poll_at=later)
    other = Ticket.objects.create(kind=flow.KIND, facility=invoice.facility, state=state,
                                  connection=invoice.connection, request={}, next_poll_at=later)
    invoice = SmartInvoice.objects.select_related("ticket").get(pk=invoice.pk)

    assert flow.check_now(invoice, alice) is True

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == state and ticket.attempts == 2
    assert ticket.next_poll_at <= timezone.now()
    assert Ticket.objects.get(pk=other.pk).next_poll_at == later  # only this invoice's
    assert invoice.events.filter(action="check requested", user=alice).count() == 1


def test_the_background_check_now_notes_no_person(active_session, alice):
    invoice = _invoice(active_session, alice)

    assert flow.check_now(invoice) is True

    assert not invoice.events.filter(action="check requested").exists()


def test_check_now_does_nothing_for_a_refused_invoice_or_one_without_a_ticket(
        active_session, alice):
    invoice = _invoice(active_session, alice)
    later = timezone.now() + timedelta(hours=1)
    Ticket.objects.filter(pk=invoice.ticket_id).update(state="failed", next_poll_at=later)
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="refused")
    refused = SmartInvoice.objects.select_related("ticket").get(pk=invoice.pk)

    assert flow.check_now(refused, alice) is False

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == "failed" and ticket.next_poll_at == later
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="pending", ticket=None)
    assert flow.check_now(SmartInvoice.objects.get(pk=invoice.pk), alice) is False
    assert not invoice.events.filter(action="check requested").exists()


def test_check_now_on_a_ticket_gone_meanwhile_requeues_and_notes_nothing(active_session, alice):
    invoice = SmartInvoice.objects.select_related("ticket").get(
        pk=_invoice(active_session, alice).pk)
    Ticket.objects.filter(pk=invoice.ticket_id).delete()

    assert flow.check_now(invoice, alice) is False

    assert not invoice.events.filter(action="check requested").exists()


def test_a_tickets_page_link_opens_its_invoice(active_session, alice):
    invoice = _invoice(active_session, alice)
    other = Ticket.objects.create(kind=flow.KIND, facility=invoice.facility,
                                  connection=invoice.connection, request={})

    assert flow.detail_url(invoice.ticket) == f"/smart/invoices/{invoice.pk}/"
    assert flow.detail_url(other) == ""


# After the visit: late diagnoses and reasons for not billing -------------------------------


def _posted_invoice(active_session, alice, status="pending"):
    invoice = _invoice(active_session, alice)
    SmartInvoice.objects.filter(pk=invoice.pk).update(status=status, posted_at=timezone.now())
    return SmartInvoice.objects.select_related("session", "facility", "connection").get(
        pk=invoice.pk)


LATE = [{"code": "J18.9", "description": "Pneumonia, unspecified organism"},
        {"code": "E11.9", "description": "Type 2 diabetes mellitus"}]


@pytest.fixture
def late_diagnosis(st_marys):
    SmartFacility.objects.filter(facility=st_marys).update(late_diagnosis=True)
    st_marys.refresh_from_db()  # drops the cached settings row


def test_a_late_diagnosis_is_sent_to_smart_and_added_to_the_invoice(
        api, active_session, alice, late_diagnosis):
    api.add(responses.POST, f"{BASE}/api/clinic-record", json={"status": "Received"})
    invoice = _posted_invoice(active_session, alice)

    flow.send_late_diagnosis(invoice, LATE, alice)

    sent = calls_to(api, "api/clinic-record", "POST")
    assert len(sent) == 1
    assert json.loads(sent[0].request.body) == {
        "invoiceNumber": "INV1500835", "memberNumber": "SAMPLETEST502",
        "visitNumber": "AKHILS001", "sessionId": "62863", "patientNumber": "23025764",
        "providerKey": "SKSP_6122", "diagnoses": LATE}
    invoice.refresh_from_db()
    assert invoice.diagnoses == [
        {"code": "J06.9", "description": "Acute upper respiratory infection"}, *LATE]
    assert not invoice.diagnosis_pending
    assert invoice.diagnosis_sent_at is not None
    assert invoice.diagnosis_sent_at >= timezone.now() - timedelta(minutes=1)
    assert [(e.action, e.detail, e.user) for e in invoice.events.filter(
        action="late diagnosis sent")] == [
        ("late diagnosis sent", "Diagnosis J18.9, E11.9 sent after the visit.", alice)]


def test_a_late_diagnosis_clears_the_invoices_pending_diagnosis(
        api, active_session, alice, late_diagnosis):
    api.add(responses.POST, f"{BASE}/api/clinic-record", json={"status": "Received"})
    invoice = _invoice(active_session, alice, diagnoses=[])
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="pending", posted_at=timezone.now())
    invoice.refresh_from_db()
    assert invoice.diagnosis_pending

    flow.send_late_diagnosis(invoice, LATE[:1], alice)

    invoice.refresh_from_db()
    assert invoice.diagnoses == LATE[:1] and not invoice.diagnosis_pending


@pytest.mark.parametrize(("status", "said"), [("billed", "billed"),
                                              ("refused", "refused by smart")])
def test_no_late_diagnosis_or_reason_is_taken_for_a_billed_or_refused_invoice(
        api, active_session, alice, late_diagnosis, status, said):
    invoice = _posted_invoice(active_session, alice, status=status)

    with pytest.raises(flow.InvoiceProblem) as diagnosis:
        flow.send_late_diagnosis(invoice, LATE, alice)
    with pytest.raises(flow.InvoiceProblem) as reason:
        flow.record_not_billed_reason(invoice, "awaiting insurer", alice)

    assert diagnosis.value.message == f"Invoice INV1500835 is {said}: no late diagnosis is needed."
    assert reason.value.message == \
        f"Invoice INV1500835 is {said}: no reason for not billing is needed."
    assert calls_to(api, "api/clinic-record") == []
    invoice.refresh_from_db()
    assert (invoice.not_billed_reason, invoice.not_billed_reason_by) == ("", None)
    assert [d["code"] for d in invoice.diagnoses] == ["J06.9"]
    assert list(invoice.events.values_list("action", flat=True)) == ["created"]


def test_a_late_diagnosis_without_the_arrangement_is_refused_with_the_way_forward(
        api, active_session, alice):
    invoice = _posted_invoice(active_session, alice)

    with pytest.raises(flow.InvoiceProblem) as refused:
        flow.send_late_diagnosis(invoice, LATE, alice)

    assert refused.value.message == (
        "St. Mary's Hospital has no arrangement with Smart for late diagnoses: every invoice "
        "must carry its diagnosis. Ask Smart to cancel the invoice and post a new one with "
        "the diagnosis, or arrange late diagnoses with Smart.")
    assert calls_to(api, "api/clinic-record") == []


def test_a_late_diagnosis_waits_until_smart_has_confirmed_the_invoice(
        api, active_session, alice, late_diagnosis):
    invoice = _invoice(active_session, alice)

    with pytest.raises(flow.InvoiceProblem) as refused:
        flow.send_late_diagnosis(invoice, LATE, alice)

    assert refused.value.message == (
        "Smart has not confirmed this invoice yet; send the diagnosis once it shows as "
        "Pending or Billed.")
    assert calls_to(api, "api/clinic-record") == []


def test_a_late_diagnosis_smart_may_have_received_is_not_recorded_as_sent(
        api, active_session, alice, late_diagnosis):
    api.add(responses.POST, f"{BASE}/api/clinic-record", body=requests.exceptions.ReadTimeout())
    invoice = _posted_invoice(active_session, alice)

    with pytest.raises(flow.InvoiceProblem) as unknown:
        flow.send_late_diagnosis(invoice, LATE, alice)

    assert unknown.value.message == (
        "The service took too long to answer; it may still have acted on the request. Check "
        "with Smart before sending it again.")
    assert len(calls_to(api, "api/clinic-record", "POST")) == 1
    invoice.refresh_from_db()
    assert [d["code"] for d in invoice.diagnoses] == ["J06.9"]
    assert invoice.diagnosis_sent_at is None
    assert [(e.action, e.detail, e.user) for e in invoice.events.exclude(action="created")] == [
        ("diagnosis unknown", "Smart did not answer in time; check with Smart before sending "
                              "again.", alice)]


def test_a_late_diagnosis_smart_refuses_is_not_recorded_and_says_why(
        api, active_session, alice, late_diagnosis):
    api.add(responses.POST, f"{BASE}/api/clinic-record", status=400,
            json=spring(400, "Bad Request", "Unknown diagnosis code",
                        path="/providerapi-dev/api/clinic-record"))
    invoice = _posted_invoice(active_session, alice)

    with pytest.raises(flow.InvoiceProblem) as refused:
        flow.send_late_diagnosis(invoice, LATE, alice)

    assert refused.value.message == "Smart refused the diagnosis: Unknown diagnosis code"
    invoice.refresh_from_db()
    assert [d["code"] for d in invoice.diagnoses] == ["J06.9"]
    assert invoice.diagnosis_sent_at is None
    assert [(e.action, e.detail, e.user) for e in invoice.events.exclude(action="created")] == [
        ("diagnosis refused", "Smart: Unknown diagnosis code", alice)]


@pytest.mark.parametrize("status", ["pending", "cancelled", "unknown", "queued"])
def test_the_reason_an_invoice_is_not_billed_is_kept_with_who_wrote_it_and_when(
        active_session, alice, status):
    invoice = _posted_invoice(active_session, alice, status=status)

    flow.record_not_billed_reason(invoice, "Retrieved in Smart portal; awaiting insurer", alice)

    invoice = SmartInvoice.objects.get(pk=invoice.pk)
    assert invoice.not_billed_reason == "Retrieved in Smart portal; awaiting insurer"
    assert invoice.not_billed_reason_by == alice
    assert timezone.now() - timedelta(minutes=1) <= invoice.not_billed_reason_at <= \
        timezone.now()
    assert [(e.action, e.detail, e.user) for e in invoice.events.exclude(action="created")] == [
        ("reason recorded", "Retrieved in Smart portal; awaiting insurer", alice)]


def test_a_repost_after_a_longer_lookup_window_says_how_long_it_looked(
        api, active_session, alice, settings):
    settings.SMART_LOOKUP_WINDOW_SECONDS = 3600
    api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)
    run_due()
    api.replace(responses.POST, CLAIMS, status=201, json={"claimId": "SC8"})
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        sent_at=timezone.now() - timedelta(seconds=3700))

    run_due()

    assert invoice.events.get(action="checked before re-post").detail == (
        "Smart still has no such invoice after 60 min of looking: posting it again.")
    assert len(calls_to(api, "api/claims", "POST")) == 2


def test_an_invoice_never_sent_by_a_worker_that_died_is_posted_once_smart_has_no_such_invoice(
        api, active_session, alice):
    # The earlier worker counted its attempt and died before setting sent_at: nothing can
    # have reached Smart, so there is no window to wait out.
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    invoice = _invoice(active_session, alice)
    Ticket.objects.filter(pk=invoice.ticket_id).update(attempts=1)

    run_due()

    assert [c.request.method for c in api.calls if "/api/" in c.request.url] == ["GET", "POST"]
    invoice.refresh_from_db()
    assert invoice.status == "pending" and invoice.smart_claim_id == "SC9"
    assert not invoice.events.filter(action="not listed yet").exists()


@pytest.mark.parametrize(("interval", "polls", "wait"), [
    (15, 0, 15), (15, 3, 120), (15, 8, 1800), (5, 8, 1280), (5, 9, 1280)])
def test_an_invoice_smart_has_not_billed_is_looked_at_less_and_less_often(
        api, active_session, alice, smart, interval, polls, wait):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    smart.poll_interval_seconds = interval
    smart.save()
    invoice = _invoice(active_session, alice)
    run_due()
    Ticket.objects.filter(pk=invoice.ticket_id).update(polls=polls)

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.polls == polls + 1 and ticket.last_http_status == 200
    waited = (ticket.next_poll_at - timezone.now()).total_seconds()
    assert wait - 30 < waited <= wait


def test_a_later_answer_does_not_replace_the_claim_id_smart_gave_first(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    api.add(responses.GET, STATUS, json={"status": "Pending", "claimId": "SC10"})
    invoice = _invoice(active_session, alice)
    run_due()

    run_due()

    invoice.refresh_from_db()
    assert invoice.smart_claim_id == "SC9" and invoice.last_checked_at is not None


def test_recording_the_same_answer_twice_notes_it_and_bills_it_once(api, active_session, alice):
    # A step may run twice: the second record of one answer changes nothing.
    from smartlink.client import ClaimStatus

    invoice = _posted_invoice(active_session, alice)
    found = ClaimStatus(status="Billed", claim_id="SC9", raw={"status": "Billed"})

    flow._record_status(invoice, found)
    first = SmartInvoice.objects.get(pk=invoice.pk)
    flow._record_status(invoice, found)

    again = SmartInvoice.objects.get(pk=invoice.pk)
    assert (again.status, again.smart_claim_id, again.billed_at) == (
        "billed", "SC9", first.billed_at)
    assert invoice.events.filter(action="status").count() == 1


@pytest.mark.parametrize("post", ["accepted", "timed out"])
def test_a_404_in_the_last_second_of_the_window_is_looked_at_again_a_second_later(
        api, active_session, alice, monkeypatch, post):
    if post == "accepted":  # the poll's lookup
        api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    else:  # the lookup before a re-post
        api.add(responses.POST, CLAIMS, body=requests.exceptions.ReadTimeout())
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)
    run_due()
    # The flow's clock stops half a second before the window closes.
    sent = SmartInvoice.objects.get(pk=invoice.pk).sent_at
    stopped = sent + timedelta(seconds=flow.lookup_window() - 0.5)
    monkeypatch.setattr(flow, "timezone", type("Clock", (), {"now": staticmethod(
        lambda: stopped)}))

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert ticket.state == ("submitted" if post == "accepted" else "queued")
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert ticket.last_error.startswith("Smart does not list invoice INV1500835 yet; it may "
                                        "have stored it. Looking again in 1 s, before")
    assert invoice.events.get(action="not listed yet").detail.endswith(
        "looking again in 1 s.")


def test_a_reason_recorded_from_a_page_read_earlier_keeps_the_status_smart_gave_since(
        active_session, alice):
    invoice = _posted_invoice(active_session, alice)
    SmartInvoice.objects.filter(pk=invoice.pk).update(status="billed", smart_claim_id="SC9")

    flow.record_not_billed_reason(invoice, "Awaiting insurer", alice)

    saved = SmartInvoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.smart_claim_id) == ("billed", "SC9")
    assert saved.not_billed_reason == "Awaiting insurer"


def test_an_invoice_smart_accepts_without_a_claim_id_is_followed_by_its_number(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"status": "Pending"})
    invoice = _invoice(active_session, alice)

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert (ticket.state, ticket.remote_id, ticket.last_http_status) == (
        "submitted", "INV1500835", 201)
    assert invoice.events.get(action="posted").detail == "Smart accepted invoice INV1500835."
    assert SmartInvoice.objects.get(pk=invoice.pk).smart_claim_id == ""


@pytest.mark.parametrize("maybe", ["sent_at", "posted_at", "status", "attempts"])
def test_anything_that_says_the_invoice_may_have_reached_smart_makes_the_next_attempt_look_first(
        api, active_session, alice, maybe):
    # "check again" resets the ticket's attempts: the invoice's own record must still say
    # that a post may have been sent.
    api.add(responses.GET, STATUS, json={"status": "Pending"})
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    invoice = _invoice(active_session, alice)
    if maybe == "attempts":
        Ticket.objects.filter(pk=invoice.ticket_id).update(attempts=1)
    else:
        SmartInvoice.objects.filter(pk=invoice.pk).update(**{
            "sent_at": {"sent_at": timezone.now()}, "posted_at": {"posted_at": timezone.now()},
            "status": {"status": "unknown"}}[maybe])

    run_due()

    assert calls_to(api, "api/claims", "POST") == []
    assert len(calls_to(api, "api/claim-status", "GET")) == 1
    assert SmartInvoice.objects.get(pk=invoice.pk).status == "pending"


def test_a_queued_invoice_with_nothing_sent_is_posted_without_a_lookup(api, active_session,
                                                                      alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    invoice = _invoice(active_session, alice)

    run_due()

    assert [c.request.method for c in api.calls if "/api/" in c.request.url] == ["POST"]
    assert SmartInvoice.objects.get(pk=invoice.pk).status == "pending"


def test_checking_again_an_invoice_smart_no_longer_finds_needs_a_person_not_a_repost(
        api, active_session, alice):
    api.add(responses.POST, CLAIMS, status=201, json={"claimId": "SC9"})
    api.add(responses.GET, STATUS, status=404, json=spring(404, "Not Found", "No invoice"))
    invoice = _invoice(active_session, alice)
    run_due()
    _window_over(invoice)
    Ticket.objects.filter(pk=invoice.ticket_id).update(state="expired")
    assert flow.check_now(SmartInvoice.objects.select_related("ticket").get(pk=invoice.pk))

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert (ticket.state, ticket.last_http_status) == ("failed", 404)
    assert ticket.last_error == ("Smart no longer finds invoice INV1500835, which it said it "
                                 "had. Call Smart before posting anything again.")
    assert len(calls_to(api, "api/claims", "POST")) == 1
    assert SmartInvoice.objects.get(pk=invoice.pk).status == "pending"


def test_checking_again_a_billed_invoice_asks_smart_nothing(api, active_session, alice):
    invoice = _posted_invoice(active_session, alice, status="billed")
    Ticket.objects.filter(pk=invoice.ticket_id).update(state="done", last_http_status=200)
    assert flow.check_now(SmartInvoice.objects.select_related("ticket").get(pk=invoice.pk))

    run_due()

    ticket = Ticket.objects.get(pk=invoice.ticket_id)
    assert (ticket.state, ticket.outcome, ticket.last_http_status) == ("done", "billed", None)
    assert [c for c in api.calls if "/api/" in c.request.url] == []


def test_reading_a_tickets_invoice_joins_its_session_and_connection(
        active_session, alice, django_assert_num_queries):
    ticket = _invoice(active_session, alice).ticket

    with django_assert_num_queries(1):
        invoice = flow._invoice(ticket)
        assert (invoice.session.session_id, invoice.connection.name) == ("62863", "Smart test")
