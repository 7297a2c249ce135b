"""The claim status client and its engine steps against every fault Integrex can answer."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.utils import timezone
from responses import matchers

from claims.models import ClaimStatusResult
from revcycle import engine, prepared
from revcycle.models import Ticket
from tests.claims.helpers import (
    CLAIM_URL,
    REMOTE_ID,
    denied_lines,
    make_due,
    mock_token,
    paid_object,
    run_to_end,
    step,
)

pytestmark = pytest.mark.django_db


@responses.activate
def test_it_posts_every_field_under_its_documented_name(make_ticket, claim_request):
    mock_token(responses)
    post = responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    ticket = step(make_ticket())
    assert ticket.state == Ticket.State.SUBMITTED
    assert ticket.remote_id == REMOTE_ID
    sent = json.loads(post.calls[0].request.body)
    assert sorted(sent) == sorted([
        "patientDob", "patientFirstName", "patientLastName", "subscriberId",
        "subscriberFirstName", "subscriberLastName", "subscriberDob", "billingProviderNpi",
        "billingProviderName", "taxId", "admitDate", "totalCharges", "payerId", "payerName",
        "trackingId1", "trackingId2"])
    assert sent["trackingId1"] == "ACC1001" and sent["billingProviderNpi"] == "1083052872"
    headers = post.calls[0].request.headers
    assert headers["Authorization"] == "Bearer tok-1"
    assert headers["env"] == "T"


@responses.activate
def test_it_sends_the_id_as_query_parameter_and_json_body(make_ticket):
    mock_token(responses)
    get = responses.add(
        responses.GET, CLAIM_URL, json=denied_lines(),
        match=[matchers.query_param_matcher({"id": REMOTE_ID}),
               matchers.json_params_matcher({"id": REMOTE_ID})])
    ticket = make_ticket(state=Ticket.State.SUBMITTED, remote_id=REMOTE_ID)
    ticket = step(ticket)
    assert get.call_count == 1
    assert ticket.state == Ticket.State.DONE


@responses.activate
def test_it_waits_on_202_then_stores_the_200_answer(make_ticket):
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    responses.add(responses.GET, CLAIM_URL, json={"status": "processing"}, status=202)
    responses.add(responses.GET, CLAIM_URL, json=denied_lines())
    ticket = step(make_ticket())
    ticket = step(ticket)
    assert ticket.state == Ticket.State.PROCESSING and ticket.polls == 1
    ticket = step(ticket)
    assert ticket.state == Ticket.State.DONE
    assert ticket.outcome == "denied"
    assert ticket.response == denied_lines()
    result = ClaimStatusResult.objects.get(ticket=ticket)
    assert result.payer_claim_number == "PCN-778899"
    assert result.lines.count() == 2


@responses.activate
def test_it_accepts_a_single_object_as_well_as_a_list(make_ticket):
    mock_token(responses)
    responses.add(responses.GET, CLAIM_URL, json=paid_object())
    ticket = step(make_ticket(state=Ticket.State.SUBMITTED, remote_id=REMOTE_ID))
    assert ticket.outcome == "paid"
    result = ticket.claim_result
    assert result.payment_amount == Decimal("1000.00")
    assert result.check_number == "EFT12345"
    assert result.lines.get().procedure_code == "99213"


@responses.activate
def test_a_400_fails_the_ticket_with_the_servers_message(make_ticket):
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, status=400,
                  json={"error": "missing required field(s): subscriberId"})
    ticket = step(make_ticket())
    assert ticket.state == Ticket.State.FAILED
    assert ticket.last_error == "missing required field(s): subscriberId"
    assert ticket.last_http_status == 400
    assert len([c for c in responses.calls if c.request.url == CLAIM_URL]) == 1


@responses.activate
def test_it_refreshes_the_token_once_on_401_and_retries(make_ticket):
    mock_token(responses, "tok-old")
    mock_token(responses, "tok-new")
    first = responses.add(responses.POST, CLAIM_URL, status=401, json={"error": "expired"})
    ticket = make_ticket()
    # The second POST must carry the new token.
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID},
                  match=[matchers.header_matcher({"Authorization": "Bearer tok-new"})])
    ticket = step(ticket)
    assert ticket.state == Ticket.State.SUBMITTED
    assert first.call_count == 1
    assert first.calls[0].request.headers["Authorization"] == "Bearer tok-old"


@responses.activate
def test_a_402_holds_the_connections_tickets_and_flags_it(make_ticket, integrex):
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, status=402, json={"message": "IP not allowed"})
    ticket = make_ticket()
    other = make_ticket(account_number="ACC2")
    ticket = step(ticket)
    integrex.refresh_from_db()
    assert integrex.flagged_at is not None
    assert "IP not allowed" in integrex.flagged_reason
    assert ticket.state == Ticket.State.QUEUED and ticket.last_error.startswith("On hold")
    Ticket.objects.update(next_poll_at=ticket.created_at)
    assert engine.claim_due("someone", 10) == []
    other.refresh_from_db()
    assert other.state == Ticket.State.QUEUED


@responses.activate
def test_a_500_is_retried_with_backoff(make_ticket):
    mock_token(responses)
    responses.add(responses.GET, CLAIM_URL, status=500, json={"message": "boom"})
    responses.add(responses.GET, CLAIM_URL, json=denied_lines())
    ticket = make_ticket(state=Ticket.State.SUBMITTED, remote_id=REMOTE_ID)
    ticket = step(ticket)
    assert ticket.state == Ticket.State.SUBMITTED
    assert "Retrying" in ticket.last_error
    assert ticket.next_poll_at > timezone.now() + timedelta(seconds=5)
    ticket = step(ticket)
    assert ticket.state == Ticket.State.DONE


@responses.activate
def test_a_timeout_is_retried(make_ticket):
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, body=requests.ReadTimeout("slow"))
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    ticket = step(make_ticket())
    assert ticket.state == Ticket.State.QUEUED
    assert "may still have acted" in ticket.last_error
    ticket = step(ticket)
    assert ticket.state == Ticket.State.SUBMITTED and ticket.attempts == 2


@responses.activate
def test_an_empty_list_means_not_found(make_ticket):
    mock_token(responses)
    responses.add(responses.GET, CLAIM_URL, json=[])
    ticket = step(make_ticket(state=Ticket.State.SUBMITTED, remote_id=REMOTE_ID))
    assert ticket.state == Ticket.State.DONE and ticket.outcome == "not_found"


@responses.activate
def test_a_pending_claim_is_final_with_outcome_pending(make_ticket):
    mock_token(responses)
    responses.add(responses.GET, CLAIM_URL,
                  json=paid_object() | {"categoryCode": "P1", "statusCode": "20",
                                        "paymentAmt": ""})
    ticket = step(make_ticket(state=Ticket.State.SUBMITTED, remote_id=REMOTE_ID))
    assert ticket.state == Ticket.State.DONE and ticket.outcome == "pending"


@responses.activate
def test_storing_twice_replaces_the_earlier_result(make_ticket):
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    responses.add(responses.GET, CLAIM_URL, json=denied_lines())
    ticket = run_to_end(make_ticket())
    assert engine.check_again(ticket)
    ticket.refresh_from_db()
    ticket = run_to_end(ticket)
    assert ticket.state == Ticket.State.DONE
    assert ClaimStatusResult.objects.filter(ticket=ticket).count() == 1
    assert ticket.claim_result.lines.count() == 2


def test_two_owners_racing_on_one_ticket_only_one_wins(make_ticket):
    ticket = make_ticket()
    make_due(ticket)
    first = engine.claim_due("owner-a", 10)
    second = engine.claim_due("owner-b", 10)
    assert first == [ticket.pk]
    assert second == []
    # The loser cannot run or save the step either.
    engine.run_step(ticket.pk, "owner-b")
    ticket.refresh_from_db()
    assert ticket.attempts == 0 and ticket.lease_owner == "owner-a"


@responses.activate
def test_a_nan_payment_amount_is_stored_as_missing_and_done_on_the_first_try(make_ticket):
    # Decimal reads "NaN" without complaint and the DecimalField then refuses it at save:
    # the engine used to retry this good answer until it gave up.
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    answer = paid_object() | {"paymentAmt": "NaN", "allowedAmount": "Infinity",
                              "chargeAmt": "-Infinity"}
    responses.add(responses.GET, CLAIM_URL, json=answer)
    ticket = step(step(make_ticket()))
    assert ticket.state == Ticket.State.DONE
    assert ticket.attempts == 1 and ticket.last_error == ""
    result = ClaimStatusResult.objects.get(ticket=ticket)
    assert result.payment_amount is None and result.charge_amount is None
    line = result.lines.get()
    assert line.payment_amount is None and line.allowed_amount is None
    assert line.units == Decimal("1.00")


def _stored(ticket: Ticket) -> tuple[dict, list[dict]]:
    result = ClaimStatusResult.objects.get(ticket=ticket)
    claim = {k: v for k, v in vars(result).items()
             if k not in ("_state", "id", "ticket_id", "created_at")}
    lines = [{k: v for k, v in line.items() if k not in ("id", "result_id")}
             for line in result.lines.order_by("position").values()]
    return claim, lines


@responses.activate
def test_a_first_answer_stored_by_a_step_handed_a_place_matches_one_stored_alone(make_ticket):
    """On PostgreSQL a step that hands its place on inserts its rows in its own statement
    (revcycle.prepared.Rows); a step run by id stores them in a transaction. Both store the
    same result, field for field."""
    mock_token(responses)
    responses.add(responses.POST, CLAIM_URL, json={"id": REMOTE_ID})
    responses.add(responses.GET, CLAIM_URL, json=denied_lines())
    alone = run_to_end(make_ticket())
    handed = step(make_ticket())  # submitted; its answer is next
    make_due(handed)
    [claimed] = engine.claim_tickets("owner-h", 1, count_attempts=True)
    engine.run_step(claimed, "owner-h", engine.HandOver())
    handed.refresh_from_db()
    assert (handed.state, alone.state) == (Ticket.State.DONE, Ticket.State.DONE)
    assert _stored(handed) == _stored(alone)
    assert len(_stored(handed)[1]) == 2


def test_a_first_answer_is_rows_to_insert_and_a_later_one_replaces(make_ticket):
    from claims import flow

    ticket = make_ticket()
    info = flow.parse_claim_info(denied_lines())
    assert isinstance(flow.rows(ticket, info), prepared.Rows)
    assert flow.rows(ticket, flow.parse_claim_info([])) is None
