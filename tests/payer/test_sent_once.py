"""A queued payer claim reaches the payer exactly once (payer.flow.submit): "sending" is
written before the POST, a claim with the payer's id is only looked up, and after any
answer that may mean the payer has it (a dropped connection, a read timeout, an unreadable
2xx, a 5xx but 503) it is never re-sent, however often its step runs again."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from payer import flow
from payer.models import PayerClaim
from revcycle import engine, errors
from revcycle.models import Ticket
from tests.payer.helpers import APPROVED, BASE, BODY, UNDER_REVIEW, queue, step

pytestmark = pytest.mark.django_db


@responses.activate
def test_the_claim_is_marked_sending_before_the_post_leaves(payer, encounter, alice):
    claim = queue(payer, encounter, alice)
    other = queue(payer, encounter, alice, body=dict(BODY, amount="1.00"), reference="RC-2")
    queued_at = PayerClaim.objects.get(pk=claim.pk).updated_at
    seen = []

    def approved(request):
        sending = PayerClaim.objects.get(pk=claim.pk)
        seen.append((sending.status, sending.updated_at > queued_at,
                     PayerClaim.objects.get(pk=other.pk).status))
        return 201, {"Content-Type": "application/json"}, json.dumps(APPROVED)

    responses.add_callback(responses.POST, f"{BASE}/claims/", callback=approved)
    step(claim)
    assert seen == [("sending", True, "queued")]  # the other claim is not taken with it
    assert (claim.status, claim.claim_id) == ("approved", "CLM-20241003-ABC123")


@pytest.mark.parametrize(("failure", "why"), [
    (requests.ConnectionError("connection reset by peer"),
     "The connection dropped; the service may or may not have received the request."),
    (requests.ReadTimeout("read timed out"),
     "The service took too long to answer; it may still have acted on the request."),
])
@responses.activate
def test_a_post_cut_off_after_it_was_sent_is_never_sent_again(payer, encounter, alice,
                                                             failure, why):
    responses.post(f"{BASE}/claims/", body=failure)
    claim = queue(payer, encounter, alice)
    step(claim)
    for _ in range(3):  # "check again", three times
        engine.check_again(Ticket.objects.get(pk=claim.ticket_id))
        step(claim)
    assert len(responses.calls) == 1
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (claim.status, ticket.state, ticket.outcome) == ("unknown", "failed", "unknown")
    assert ticket.last_error == flow.UNKNOWN_MESSAGE
    unknown = claim.events.filter(status="unknown")
    assert unknown.count() == 1  # written once, not at each check
    assert unknown.get().message == f"Outcome unknown ({why}); not re-sent."


@responses.activate
def test_an_unreadable_2xx_is_an_unknown_outcome_not_a_refusal(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", body="<html>OK</html>", status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    engine.check_again(Ticket.objects.get(pk=claim.ticket_id))
    step(claim)
    assert (claim.status, len(responses.calls)) == ("unknown", 1)


@pytest.mark.parametrize(("exc", "unsafe"), [
    (errors.UnknownOutcome("read timed out"), True),
    (errors.BadResponse("not JSON", status=201), True),
    (errors.Unavailable("bad gateway", status=500), True),
    (errors.Unavailable("bad gateway", status=502), True),
    (errors.Unavailable("gateway timeout", status=504), True),
    (errors.Unavailable("busy", status=503), False),
    (errors.Unavailable("connect timeout", status=None), False),
    (errors.RateLimited("slow down", status=429), False),
    (errors.Unauthorized("token refused", status=401), False),
])
def test_only_errors_after_which_the_payer_may_have_the_claim_stop_it(exc, unsafe):
    assert flow._unsafe_to_retry(exc) is unsafe


@pytest.mark.parametrize(("status", "raised"), [(429, errors.RateLimited),
                                                 (503, errors.Unavailable)])
@responses.activate
def test_an_answer_saying_nothing_was_done_puts_the_claim_back_in_the_queue(
        payer, encounter, alice, status, raised):
    """The step raises for the engine to retry later, and the claim is queued again, so
    the retry sends it (a claim left "sending" would stop as unknown)."""
    responses.post(f"{BASE}/claims/", json={"error": "later"}, status=status)
    claim = queue(payer, encounter, alice)
    with pytest.raises(raised):
        flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    claim.refresh_from_db()
    assert (claim.status, claim.events.count()) == ("queued", 1)
    responses.replace(responses.POST, f"{BASE}/claims/", json=APPROVED, status=201)
    step(claim)
    assert (claim.status, len(responses.calls)) == ("approved", 2)


@pytest.mark.parametrize("status", [400, 404, 409])
@responses.activate
def test_a_refusal_is_final_and_not_sent_again(payer, encounter, alice, status):
    responses.post(f"{BASE}/claims/", json={"error": "No", "error_code": "E1"}, status=status)
    claim = queue(payer, encounter, alice)
    step(claim)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (claim.status, claim.http_status, claim.error_code) == ("error", status, "E1")
    assert (ticket.state, ticket.outcome, ticket.last_http_status, ticket.response) == (
        "done", "error", status, {"error": "No", "error_code": "E1"})
    engine.check_again(ticket)
    step(claim)
    assert (claim.status, len(responses.calls)) == ("error", 1)


def test_a_failed_send_puts_back_only_its_own_claim_and_only_if_still_sending(
        payer, encounter, alice):
    """A 503 means nothing reached the payer: this claim goes back to the queue. Another
    claim that a worker is sending meanwhile stays "sending" (put back, it would be sent
    twice), and so does a claim whose status moved while the POST was out."""
    claim = queue(payer, encounter, alice)
    other = queue(payer, encounter, alice, body=dict(BODY, amount="1.00"), reference="RC-2")
    PayerClaim.objects.filter(pk=other.pk).update(status="sending")
    with responses.RequestsMock() as payer_api, pytest.raises(errors.Unavailable):
        payer_api.post(f"{BASE}/claims/", json={"error": "busy"}, status=503)
        flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    assert PayerClaim.objects.get(pk=claim.pk).status == "queued"
    assert PayerClaim.objects.get(pk=other.pk).status == "sending"

    def moved_meanwhile(request):
        PayerClaim.objects.filter(pk=claim.pk).update(status="error")
        return 503, {"Content-Type": "application/json"}, "{}"

    with responses.RequestsMock() as payer_api, pytest.raises(errors.Unavailable):
        payer_api.add_callback(responses.POST, f"{BASE}/claims/", callback=moved_meanwhile)
        flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    assert PayerClaim.objects.get(pk=claim.pk).status == "error"


def test_a_claim_another_worker_took_between_the_read_and_the_send_is_not_sent(
        payer, encounter, alice, monkeypatch):
    """The step read the claim as queued; another worker has since moved it to sending.
    The conditional UPDATE (status still queued) finds nothing, so nothing is sent."""
    claim = queue(payer, encounter, alice)
    stale = PayerClaim.objects.select_related("connection").get(pk=claim.pk)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")
    monkeypatch.setattr(flow, "_claim_of", lambda ticket: stale)
    with responses.RequestsMock() as payer_api:
        result = flow.submit(Ticket.objects.get(pk=claim.ticket_id))
        assert len(payer_api.calls) == 0
    assert isinstance(result, engine.Failed)
    assert (result.message, result.outcome) == (flow.UNKNOWN_MESSAGE, "unknown")
    claim.refresh_from_db()  # left to the worker that is sending it
    assert (claim.status, claim.events.count()) == ("sending", 1)


def test_a_claim_with_the_payers_id_is_only_looked_up(payer, encounter, alice):
    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(claim_id="CLM-KNOWN", status="unknown")
    with responses.RequestsMock():
        result = flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    assert isinstance(result, engine.Submitted)
    assert (result.remote_id, result.poll_in) == ("CLM-KNOWN", 0)


@responses.activate
def test_the_payers_id_is_kept_before_the_answer_is_stored(payer, encounter, alice):
    """Whatever happens to the step after the POST (the worker dies before the engine
    stores the answer), the claim already has its id and will only be looked up."""
    responses.post(f"{BASE}/claims/", json=APPROVED, status=201)
    claim = queue(payer, encounter, alice)
    result = flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    claim.refresh_from_db()
    assert (claim.claim_id, claim.status) == ("CLM-20241003-ABC123", "sending")
    assert isinstance(result, engine.Done)
    assert (result.outcome, result.http_status, result.response) == ("approved", 201, APPROVED)
    result.store()
    claim.refresh_from_db()
    event = claim.events.order_by("-id").first()
    assert (claim.status, event.source) == ("approved", "submit")


@responses.activate
def test_a_claim_under_review_is_handed_to_the_poller_with_its_id(payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    claim = queue(payer, encounter, alice)
    result = flow.submit(Ticket.objects.get(pk=claim.ticket_id))
    assert isinstance(result, engine.Submitted)
    assert (result.remote_id, result.http_status, result.poll_in) == (
        "CLM-20241003-DEF456", 201, 30)
    claim.refresh_from_db()
    event = claim.events.order_by("-id").first()
    assert (claim.status, event.status, event.source) == ("under_review", "under_review",
                                                          "submit")


@responses.activate
def test_the_body_sent_is_the_tickets_request_with_its_ticket_id_in_the_log(
        payer, encounter, alice, caplog):
    responses.post(f"{BASE}/claims/", json=APPROVED, status=201)
    claim = queue(payer, encounter, alice, body=dict(BODY, amount="99.00"))
    with caplog.at_level("INFO"):
        step(claim)
    assert json.loads(responses.calls[0].request.body)["amount"] == "99.00"
    assert f"(connection {payer.pk}, ticket {claim.ticket_id})" in caplog.text


def test_an_answer_gives_a_claim_its_payers_id_and_never_replaces_one(payer, encounter, alice):
    """A claim looked up by its ticket's remote id (no id on the claim) takes the answer's;
    a claim with an id keeps it, whatever id an answer names."""
    from payer.client import ClaimAnswer

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")
    flow.apply_answer(claim.pk, ClaimAnswer("CLM-FROM-ANSWER", "under_review"), "poll")
    claim.refresh_from_db()
    assert claim.claim_id == "CLM-FROM-ANSWER"
    flow.apply_answer(claim.pk, ClaimAnswer("CLM-OTHER", "approved"), "poll")
    claim.refresh_from_db()
    assert (claim.claim_id, claim.status) == ("CLM-FROM-ANSWER", "approved")


@responses.activate
def test_a_refused_claim_checked_again_keeps_the_payers_refusal_on_its_ticket(
        payer, encounter, alice):
    refusal = {"error": "No", "error_code": "E1"}
    responses.post(f"{BASE}/claims/", json=refusal, status=400)
    claim = queue(payer, encounter, alice)
    step(claim)
    engine.check_again(Ticket.objects.get(pk=claim.ticket_id))
    step(claim)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.state, ticket.outcome, ticket.response, ticket.last_http_status) == (
        "done", "error", refusal, 400)
    assert len(responses.calls) == 1


@responses.activate
def test_a_polled_final_answer_is_kept_on_the_ticket_with_its_http_status(
        payer, encounter, alice):
    responses.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
    claim = queue(payer, encounter, alice)
    step(claim)
    rejected = {"status": "rejected", "message": "Claim rejected",
                "claim": {"claim_id": "CLM-20241003-DEF456", "status": "rejected",
                          "rejection_reason": "Service not covered"}}
    responses.get(f"{BASE}/claims/CLM-20241003-DEF456/", json=rejected, status=200)
    step(claim)
    ticket = Ticket.objects.get(pk=claim.ticket_id)
    assert (ticket.state, ticket.outcome, ticket.response, ticket.last_http_status) == (
        "done", "rejected", rejected, 200)
    assert (claim.status, claim.rejection_reason) == ("rejected", "Service not covered")
