from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import responses

from payer.models import PayerClaim
from revcycle.models import Ticket
from tests.payer.helpers import APPROVED, BASE, BODY, NOT_FOUND, REJECTED, UNDER_REVIEW, queue, step

pytestmark = pytest.mark.django_db


def _sent(call: responses.Call) -> dict:
    return json.loads(call.request.body)


@responses.activate
def test_it_sends_the_guides_fields_with_the_api_key_and_provider_id(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=APPROVED, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    request = responses.calls[0].request
    assert request.headers["X-API-Key"] == "payer-key"
    assert request.headers["X-Provider-ID"] == "PROV-001"
    assert _sent(responses.calls[0]) == BODY


@responses.activate
def test_an_approved_claim_shows_expected_payment_and_patient_responsibility(
    payer, encounter, alice
):
    responses.post(f"{BASE}/claims/", json=APPROVED, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "approved"
    assert claim.claim_id == "CLM-20241003-ABC123"
    assert claim.expected_payment == Decimal("1000.00")
    assert claim.patient_responsibility == Decimal("250.00")
    assert Ticket.objects.get(pk=claim.ticket_id).state == "done"
    assert [e.status for e in claim.events.all()] == ["queued", "approved"]


@responses.activate
def test_an_under_review_claim_keeps_reason_time_and_contact_and_is_polled(payer, encounter, alice):
    payer.webhook_secret = ""
    payer.save()
    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "under_review"
    assert claim.review_reason == "Procedure not covered under patient's current plan"
    assert claim.estimated_review_time == "24-48 hours"
    assert claim.reviewer_contact == "claims@payor.com"
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert ticket.state == "submitted"
    assert ticket.remote_id == "CLM-20241003-DEF456"
    wait = (ticket.next_poll_at - ticket.submitted_at).total_seconds()
    assert 29 <= wait <= 31  # connection.poll_interval_seconds when no webhook is configured

    approved = dict(APPROVED, claim=dict(APPROVED["claim"], claim_id="CLM-20241003-DEF456"))
    responses.get(f"{BASE}/claims/CLM-20241003-DEF456/", json=approved)
    step(claim)
    assert claim.status == "approved"
    assert responses.calls[1].request.headers["X-Provider-ID"] == "PROV-001"
    assert len(responses.calls) == 2  # polled, never re-posted


def _poll_at(claim, minutes_under_review: float) -> float:
    """One status check with the clock moved `minutes_under_review` past the review's start;
    returns the seconds until the next one."""
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    moved = claim.status_changed_at + timedelta(minutes=minutes_under_review)
    with mock.patch("django.utils.timezone.now", return_value=moved):
        step(claim)
        ticket = Ticket.objects.get(pk=claim.ticket_id)
        return (ticket.next_poll_at - timezone.now()).total_seconds()


@pytest.mark.parametrize("secret", ["whsec-test", ""])
@responses.activate
def test_under_review_it_polls_every_30_s_for_10_minutes_then_every_10_minutes(
        payer, encounter, alice, secret):
    payer.webhook_secret = secret  # webhooks can fail silently: the same schedule either way
    payer.save()
    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    responses.get(f"{BASE}/claims/CLM-20241003-DEF456/", json=UNDER_REVIEW)
    claim = queue(payer, encounter, alice)
    step(claim)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.next_poll_at - ticket.submitted_at).total_seconds() == 30
    assert _poll_at(claim, 1) == 30
    assert _poll_at(claim, 9.5) == 30
    assert _poll_at(claim, 10.5) == 600
    assert _poll_at(claim, 300) == 600
    assert len(responses.calls) == 5  # one POST, four GETs, never a second POST
    claim.refresh_from_db()
    assert claim.status == "under_review"


@responses.activate
def test_a_webhook_ends_the_polling_at_once(client, payer, encounter, alice):
    import hashlib
    import hmac

    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    raw = json.dumps({"event_type": "claim_status_update", "claim_id": "CLM-20241003-DEF456",
                      "new_status": "approved", "timestamp": "2026-01-05T10:00:00Z"}).encode()
    signature = hmac.new(b"whsec-test", raw, hashlib.sha256).hexdigest()
    client.post(f"/claims/payer/webhooks/{payer.pk}/", data=raw,
                content_type="application/json", HTTP_X_WEBHOOK_SIGNATURE=signature)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.state, ticket.next_poll_at) == ("done", None)
    claim.refresh_from_db()
    assert claim.status == "approved"
    assert len(responses.calls) == 1  # no GET after the webhook


@responses.activate
def test_a_rejected_claim_shows_the_reason(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=REJECTED, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "rejected"
    assert claim.rejection_reason == "Service not covered"


@responses.activate
def test_a_400_keeps_the_payers_error_code_and_suggestions(payer, encounter, alice):
    responses.post(
        f"{BASE}/claims/",
        status=400,
        json={
            "error": "Invalid ICD-10 diagnosis code: X",
            "error_code": "INVALID_DIAGNOSIS_CODE",
            "claim_id": None,
            "suggestions": ["Use an ICD-10 code such as J20.9"],
        },
    )
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "error"
    assert claim.error_code == "INVALID_DIAGNOSIS_CODE"
    assert claim.suggestions == ["Use an ICD-10 code such as J20.9"]
    assert claim.message == "Invalid ICD-10 diagnosis code: X"
    assert len(responses.calls) == 1


@responses.activate
def test_a_404_insurance_not_found_is_shown_with_its_suggestions(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", status=404, json=NOT_FOUND)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "error"
    assert claim.error_code == "INSURANCE_NOT_FOUND"
    assert "Contact payor customer service" in claim.suggestions
    assert Ticket.objects.get(pk=claim.ticket_id).last_http_status == 404


@responses.activate
def test_after_an_unknown_outcome_the_claim_is_not_sent_again(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", body=requests.ReadTimeout("read timed out"))
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "unknown"
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert ticket.state == "failed"
    assert ticket.outcome == "unknown"
    assert "NOT sent again" in ticket.last_error
    # Even if the ticket is queued again (check again), the claim is not re-posted.
    from revcycle import engine

    engine.check_again(ticket)
    step(claim)
    assert len(responses.calls) == 1
    assert claim.status == "unknown"


@responses.activate
def test_a_send_cut_off_by_a_dead_worker_is_not_repeated(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=APPROVED, status=201)
    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")  # the worker died here
    Ticket.objects.filter(pk=claim.ticket_id).update(attempts=1)
    step(claim)
    assert claim.status == "unknown"
    assert len(responses.calls) == 0
    assert claim.events.latest("id").message == (
        "Outcome unknown (an earlier attempt was cut off); not re-sent.")


@responses.activate
def test_a_connect_timeout_is_retried_because_nothing_was_sent(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", body=requests.ConnectTimeout("no route"))
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "queued"
    assert Ticket.objects.get(pk=claim.ticket_id).state == "queued"
    responses.replace(responses.POST, f"{BASE}/claims/", json=APPROVED, status=201)
    step(claim)
    assert claim.status == "approved"


@responses.activate
def test_a_manager_can_resend_after_checking_and_a_claim_id_is_only_looked_up(
    payer, encounter, alice, maya
):
    from payer import flow as payer_flow

    responses.post(f"{BASE}/claims/", body=requests.ReadTimeout("read timed out"))
    claim = queue(payer, encounter, alice)
    step(claim)
    assert payer_flow.found_at_payer(claim, "CLM-20241003-ABC123", alice)
    responses.get(f"{BASE}/claims/CLM-20241003-ABC123/", json=APPROVED)
    step(claim)  # submit: has a claim id, so only schedules the lookup
    step(claim)  # poll
    assert claim.status == "approved"
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]
    assert not payer_flow.confirm_resend(claim, maya)  # nothing unknown any more


def test_the_same_form_posted_twice_makes_one_claim(payer, encounter, alice):
    first = queue(payer, encounter, alice, reference="RC-SAME")
    second = queue(payer, encounter, alice, reference="RC-SAME")
    assert first.pk == second.pk
    assert PayerClaim.objects.count() == 1


@responses.activate
def test_a_manager_who_checked_with_the_payer_can_resend(payer, encounter, alice, maya):
    from payer import flow as payer_flow

    responses.post(f"{BASE}/claims/", body=requests.ReadTimeout("read timed out"))
    claim = queue(payer, encounter, alice)
    step(claim)
    responses.replace(responses.POST, f"{BASE}/claims/", json=APPROVED, status=201)
    assert payer_flow.confirm_resend(claim, maya)
    claim.refresh_from_db()
    note = claim.events.order_by("-id").first()
    assert (note.status, note.source, note.message) == (
        "queued", "person", "maya checked with the payer and re-sent.")
    assert claim.resend_confirmed_at is not None
    step(claim)
    assert claim.status == "approved"
    assert claim.resend_confirmed_by == maya
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_other_than_503_after_the_post_stops_as_unknown_and_is_not_resent(
        payer, encounter, alice, status):
    responses.post(f"{BASE}/claims/", json={"error": "gateway"}, status=status)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "unknown"
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.outcome, ticket.last_http_status) == ("unknown", status)
    assert len(responses.calls) == 1


@responses.activate
def test_a_503_is_retried_because_the_payer_processed_nothing(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json={"error": "busy"}, status=503)
    claim = queue(payer, encounter, alice)
    step(claim)
    assert claim.status == "queued"
    assert Ticket.objects.get(pk=claim.ticket_id).state == "queued"


@pytest.mark.parametrize("status", ["queued", "error", "under_review"])
def test_only_a_claim_of_unknown_outcome_can_be_resent_or_given_an_id(
        payer, encounter, alice, maya, status):
    from payer import flow as payer_flow

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status=status)
    claim.refresh_from_db()
    assert not payer_flow.confirm_resend(claim, maya)
    assert not payer_flow.found_at_payer(claim, "CLM-NEW", alice)
    claim.refresh_from_db()
    assert (claim.status, claim.claim_id, claim.resend_confirmed_by) == (status, "", None)
    assert claim.events.count() == 1  # "Queued for sending." only


@responses.activate
def test_a_payer_claim_id_already_on_another_claim_is_not_taken(payer, encounter, alice, maya):
    from payer import flow as payer_flow

    responses.post(f"{BASE}/claims/", body=requests.ReadTimeout("read timed out"))
    other = queue(payer, encounter, alice, reference="RC-OTHER")
    PayerClaim.objects.filter(pk=other.pk).update(claim_id="CLM-TAKEN", status="approved")
    claim = queue(payer, encounter, alice)
    step(claim)
    assert not payer_flow.found_at_payer(claim, "CLM-TAKEN", alice)
    assert not payer_flow.found_at_payer(claim, "   ", alice)
    claim.refresh_from_db()
    assert (claim.status, claim.claim_id) == ("unknown", "")
    assert payer_flow.found_at_payer(claim, " CLM-MINE ", alice)
    claim.refresh_from_db()
    assert claim.claim_id == "CLM-MINE"
    noted = claim.events.latest("id")
    assert (noted.status, noted.source, noted.message) == (
        "unknown", "person", "alice entered the payer's claim id; looking it up.")
    assert Ticket.objects.get(pk=claim.ticket_id).state == "queued"


# --- what an answer stores (payer.flow.apply_answer, record_refusal, poll_seconds)

def _answered(payer, encounter, alice, was: str, answer: dict):
    """A claim in status `was` given one answer, as the submit and poll steps give it;
    returns (changed, claim)."""
    from payer import flow
    from payer.client import ClaimAnswer

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status=was, claim_id="CLM-1")
    changed = flow.apply_answer(claim.pk, ClaimAnswer(claim_id="CLM-1", **answer), "poll")
    claim.refresh_from_db()
    return changed, claim


@pytest.mark.parametrize(("answer", "said"), [
    ({"status": "approved", "expected_payment": Decimal("1000.00"),
      "patient_responsibility": Decimal("250.00")},
     "Approved. Expected payment 1000.00, patient responsibility 250.00."),
    ({"status": "under_review", "review_reason": "Not covered", "coverage_message": "Plan B"},
     "Under review: Not covered"),
    ({"status": "under_review", "coverage_message": "Plan B"}, "Under review: Plan B"),
    ({"status": "rejected", "rejection_reason": "Service not covered", "message": "No"},
     "Rejected: Service not covered"),
    ({"status": "rejected", "message": "Claim rejected"}, "Rejected: Claim rejected"),
])
def test_the_timeline_says_what_each_answer_said(payer, encounter, alice, answer, said):
    changed, claim = _answered(payer, encounter, alice, "sending", answer)
    event = claim.events.order_by("-id").first()
    assert (changed, event.status, event.source, event.message) == (
        True, answer["status"], "poll", said)


def test_an_answer_stores_the_payers_message_status_code_and_texts(payer, encounter, alice):
    _, claim = _answered(payer, encounter, alice, "sending", {
        "status": "under_review", "message": "For review", "coverage_message": "Plan B",
        "http_status": 201})
    assert (claim.message, claim.coverage_message, claim.http_status, claim.rejection_reason) == (
        "For review", "Plan B", 201, "")


def test_an_answer_without_texts_keeps_the_claims(payer, encounter, alice):
    from payer import flow
    from payer.client import ClaimAnswer

    _, claim = _answered(payer, encounter, alice, "sending", {
        "status": "under_review", "message": "For review", "coverage_message": "Plan B",
        "http_status": 201, "review_reason": "R", "estimated_review_time": "24-48 hours",
        "reviewer_contact": "claims@payor.com"})
    assert flow.apply_answer(claim.pk, ClaimAnswer("CLM-1", "under_review"), "poll") is False
    claim.refresh_from_db()
    assert (claim.message, claim.coverage_message, claim.http_status, claim.review_reason,
            claim.estimated_review_time, claim.reviewer_contact) == (
        "For review", "Plan B", 201, "R", "24-48 hours", "claims@payor.com")


def test_an_approval_keeps_no_rejection_reason(payer, encounter, alice):
    _, approved = _answered(payer, encounter, alice, "sending",
                            {"status": "approved", "message": "Claim submitted"})
    assert approved.rejection_reason == ""


def test_an_approval_after_a_rejection_is_a_conflict_and_stores_no_payment(
        payer, encounter, alice):
    changed, claim = _answered(payer, encounter, alice, "rejected", {
        "status": "approved", "expected_payment": Decimal("5.00"),
        "patient_responsibility": Decimal("1.00")})
    assert (changed, claim.status, claim.expected_payment, claim.patient_responsibility) == (
        False, "rejected", None, None)
    assert claim.conflict.startswith("The payer now says approved (Approved. Expected payment")


def test_a_refusal_without_an_error_code_or_a_json_body_is_recorded_plainly(
        payer, encounter, alice):
    from payer import flow
    from revcycle import errors

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")
    flow.record_refusal(claim.pk, errors.BadRequest("m" * 600, status=400, body="<html>"))
    claim.refresh_from_db()
    assert (claim.status, claim.message, claim.http_status, claim.error_code,
            claim.suggestions, claim.response) == ("error", "m" * 500, 400, "", [], None)
    event = claim.events.order_by("-id").first()
    assert (event.status, event.source, event.message) == (
        "error", "submit", "Refused (400): " + "m" * 485)


def test_a_refusal_names_its_error_code_on_the_timeline(payer, encounter, alice):
    from payer import flow
    from revcycle import errors

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")
    body = {"error": "Bad code", "error_code": "INVALID_DIAGNOSIS_CODE", "suggestions": ["J20.9"]}
    flow.record_refusal(claim.pk, errors.BadRequest("Bad code", status=400, body=body))
    claim.refresh_from_db()
    assert claim.events.order_by("-id").first().message == (
        "Refused (400, INVALID_DIAGNOSIS_CODE): Bad code")
    assert (claim.response, claim.suggestions) == (body, ["J20.9"])


def test_a_claim_under_review_is_polled_every_30_s_until_exactly_10_minutes(
        payer, encounter, alice):
    from datetime import timedelta

    from payer.flow import poll_seconds

    claim = queue(payer, encounter, alice)
    claim.status = "under_review"
    start = claim.status_changed_at
    assert [poll_seconds(claim, start + timedelta(seconds=s)) for s in (0, 599, 600)] == [
        30.0, 30.0, 600.0]
    claim.status = "approved"  # not under review: the short wait, however long ago
    assert poll_seconds(claim, start + timedelta(hours=5)) == 30.0


@responses.activate
def test_a_poll_under_review_is_noted_as_a_status_check_with_its_http_status(
        payer, encounter, alice):
    """The payer's id was entered after an unknown outcome: the lookup finds the claim under
    review; the timeline says a status check found it, and the ticket keeps the 200."""
    from payer import flow as payer_flow

    responses.post(f"{BASE}/claims/", body=requests.ReadTimeout("read timed out"))
    claim = queue(payer, encounter, alice)
    step(claim)
    assert payer_flow.found_at_payer(claim, "CLM-20241003-DEF456", alice)
    responses.get(f"{BASE}/claims/CLM-20241003-DEF456/", json=UNDER_REVIEW, status=200)
    step(claim)  # submit: only schedules the lookup
    step(claim)  # poll
    event = claim.events.order_by("-id").first()
    assert (claim.status, event.status, event.source) == ("under_review", "under_review", "poll")
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.state, ticket.last_http_status) == ("processing", 200)


@responses.activate
def test_a_poll_of_a_claim_a_webhook_already_decided_only_closes_the_ticket(
        payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    PayerClaim.objects.filter(pk=claim.pk).update(status="approved",
                                                  response={"decided": "by webhook"})
    step(claim)  # the poll: no GET (none is mocked), the claim's own answer kept
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.state, ticket.outcome, ticket.response) == (
        "done", "approved", {"decided": "by webhook"})
    assert [c.request.method for c in responses.calls] == ["POST"]
