"""Every field a step writes on its ticket, and the waits between tries (written from
`make mutants`' survivors in revcycle/engine.py): what a biller sees, when the ticket is
asked again, and what "check again" resets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from revcycle import engine, errors
from revcycle.models import Connection, Ticket

MakeTicket = Callable[..., Ticket]


@pytest.fixture(autouse=True)
def no_jitter(monkeypatch: Any) -> Iterator[list[tuple[float, float]]]:
    """The backoff's random factor is its upper bound here; the bounds asked are kept."""
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(engine.random, "uniform", uniform)
    yield bounds


def _step(ticket: Ticket, owner: str = "worker-1") -> tuple[Ticket, datetime, datetime]:
    """Run one step; the ticket as saved, and the times around the step."""
    assert engine.claim_due(owner, 1) == [ticket.pk]
    before = timezone.now()
    engine.run_step(ticket.pk, owner)
    return Ticket.objects.get(pk=ticket.pk), before, timezone.now()


def _due_in(ticket: Ticket, before: datetime, after: datetime, seconds: float) -> bool:
    wait = timedelta(seconds=seconds)
    return before + wait <= ticket.next_poll_at <= after + wait


def _raising(exc: errors.ApiError) -> Callable[[Ticket], engine.Step]:
    def step(ticket: Ticket) -> engine.Step:
        raise exc

    return step


def test_a_submitted_step_polls_when_the_service_says_and_clears_the_last_error(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted("R" * 120, 202, poll_in=7)
    ticket, before, after = _step(make_ticket(last_error="Retrying in 15 s."))
    assert ticket.remote_id == "R" * 100  # cut to the column
    assert ticket.last_error == "" and ticket.last_http_status == 202
    assert _due_in(ticket, before, after, 7)
    assert before <= ticket.submitted_at <= after


def test_a_submitted_step_may_poll_at_once(make_ticket: MakeTicket,
                                           echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted("R-1", 202, poll_in=0)
    ticket, before, after = _step(make_ticket())
    assert _due_in(ticket, before, after, 0)


def test_a_pending_step_waits_the_poll_interval_when_retry_after_is_shorter(
        make_ticket: MakeTicket, echo_kind: engine.Kind, payer: Connection) -> None:
    echo_kind.poll = lambda t: engine.Pending(202, retry_after=3)
    first_seen = timezone.now() - timedelta(minutes=5)
    ticket, before, after = _step(make_ticket(
        connection=payer, state=Ticket.State.PROCESSING, remote_id="R-1", polls=2,
        processing_at=first_seen, last_error="old"))
    assert _due_in(ticket, before, after, payer.poll_interval_seconds)
    assert (ticket.state, ticket.polls, ticket.last_http_status, ticket.last_error) == (
        Ticket.State.PROCESSING, 3, 202, "")
    assert ticket.processing_at == first_seen  # when it first went into processing


def test_a_pending_step_without_retry_after_waits_the_poll_interval(
        make_ticket: MakeTicket, echo_kind: engine.Kind, payer: Connection) -> None:
    echo_kind.poll = lambda t: engine.Pending(202)
    ticket, before, after = _step(make_ticket(
        connection=payer, state=Ticket.State.SUBMITTED, remote_id="R-1"))
    assert _due_in(ticket, before, after, payer.poll_interval_seconds)
    assert before <= ticket.processing_at <= after


def test_a_done_step_records_its_answer_and_counts_the_poll(make_ticket: MakeTicket,
                                                            echo_kind: engine.Kind) -> None:
    echo_kind.poll = lambda t: engine.Done("paid-in-full-outcome-name", {"s": 1}, 201)
    ticket, before, after = _step(make_ticket(
        state=Ticket.State.PROCESSING, remote_id="R-1", polls=4, last_error="old"))
    assert (ticket.state, ticket.outcome, ticket.response) == (
        Ticket.State.DONE, "paid-in-full-outcome", {"s": 1})  # outcome cut to 20 characters
    assert (ticket.last_http_status, ticket.last_error, ticket.polls) == (201, "", 5)
    assert before <= ticket.ready_at == ticket.finished_at <= after
    assert ticket.next_poll_at is None
    assert (ticket.lease_owner, ticket.lease_until) == ("", None)


def test_a_done_submit_is_not_a_poll(make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Done("paid", {}, 200)
    ticket, _, _ = _step(make_ticket())
    assert (ticket.state, ticket.polls, ticket.attempts) == (Ticket.State.DONE, 0, 1)


def test_a_failed_step_records_why_and_stops(make_ticket: MakeTicket,
                                             echo_kind: engine.Kind) -> None:
    echo_kind.poll = lambda t: engine.Failed("Denied: not covered.", 200, "denied")
    ticket, before, after = _step(make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1"))
    assert (ticket.state, ticket.outcome, ticket.last_error, ticket.last_http_status) == (
        Ticket.State.FAILED, "denied", "Denied: not covered.", 200)
    assert before <= ticket.finished_at <= after and ticket.next_poll_at is None


def test_refused_credentials_hold_the_ticket_for_one_poll_interval(
        make_ticket: MakeTicket, echo_kind: engine.Kind, payer: Connection) -> None:
    echo_kind.submit = _raising(errors.AuthenticationFailed("IP not allowed (402).", status=402))
    ticket, before, after = _step(make_ticket(connection=payer))
    assert ticket.last_error == "On hold: IP not allowed (402)."
    assert ticket.last_http_status == 402 and ticket.state == Ticket.State.QUEUED
    assert _due_in(ticket, before, after, payer.poll_interval_seconds)
    payer.refresh_from_db()
    assert payer.flagged_reason == "IP not allowed (402)."


@pytest.mark.parametrize("retry_after,wait", [(42, 42), (None, 5)])
def test_a_rate_limit_waits_its_retry_after_or_five_seconds(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        retry_after: float | None, wait: int) -> None:
    echo_kind.submit = _raising(errors.RateLimited("slow", status=429, retry_after=retry_after))
    ticket, before, after = _step(make_ticket())
    assert _due_in(ticket, before, after, wait)
    assert ticket.last_http_status == 429
    assert ticket.last_error == f"The service asked us to slow down; retrying after {wait} s."
    integrex.refresh_from_db()
    assert integrex.backoff_until == ticket.next_poll_at


def test_a_permanent_error_fails_with_its_status(make_ticket: MakeTicket,
                                                 echo_kind: engine.Kind) -> None:
    echo_kind.poll = _raising(errors.NotFound("No such claim.", status=404))
    ticket, before, after = _step(make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1"))
    assert (ticket.state, ticket.outcome, ticket.last_error, ticket.last_http_status) == (
        Ticket.State.FAILED, "error", "No such claim.", 404)


def test_a_retryable_error_on_a_poll_counts_the_poll_and_says_when(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        no_jitter: list[tuple[float, float]]) -> None:
    echo_kind.poll = _raising(errors.Unavailable("Integrex had an error (502).", status=502))
    ticket, before, after = _step(make_ticket(
        state=Ticket.State.PROCESSING, remote_id="R-1", polls=1))
    # The second failure (polls + 1): twice the interval, at the top of the jitter band.
    wait = integrex.poll_interval_seconds * 2 * 1.2
    assert no_jitter == [(0.8, 1.2)]
    assert _due_in(ticket, before, after, wait)
    assert (ticket.polls, ticket.last_http_status, ticket.state) == (
        2, 502, Ticket.State.PROCESSING)
    assert ticket.last_error == f"Integrex had an error (502). Retrying in {wait:.0f} s."


def test_a_retry_after_longer_than_the_backoff_is_waited(make_ticket: MakeTicket,
                                                         echo_kind: engine.Kind) -> None:
    echo_kind.submit = _raising(errors.Unavailable("busy", status=503, retry_after=200))
    ticket, before, after = _step(make_ticket())
    assert _due_in(ticket, before, after, 200)
    assert ticket.polls == 0 and ticket.attempts == 1


def test_a_poll_that_failed_too_often_gives_up_with_the_count(make_ticket: MakeTicket,
                                                              echo_kind: engine.Kind) -> None:
    echo_kind.poll = _raising(errors.Unavailable("busy", status=503))
    polls = engine.MAX_RETRYABLE_FAILURES - 1
    ticket, _, _ = _step(make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1",
                                     polls=polls))
    assert ticket.state == Ticket.State.FAILED and ticket.last_http_status == 503
    assert ticket.last_error == (
        f"Gave up after {polls + 1} attempts: busy Check the connection, then use “check "
        "again”.")


def test_one_failure_short_of_the_limit_is_still_retried(make_ticket: MakeTicket,
                                                         echo_kind: engine.Kind) -> None:
    echo_kind.poll = _raising(errors.Unavailable("busy", status=503))
    ticket, _, _ = _step(make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1",
                                     polls=engine.MAX_RETRYABLE_FAILURES - 2))
    assert ticket.state == Ticket.State.PROCESSING


def test_a_ticket_past_its_age_expires_saying_after_how_many_hours(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.max_age_seconds = 7200
    old = timezone.now() - timedelta(seconds=7201)
    ticket, before, after = _step(make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                                              queued_at=old))
    assert (ticket.state, ticket.outcome, ticket.next_poll_at) == (
        Ticket.State.EXPIRED, "error", None)
    assert ticket.last_error == "No final answer after 2 hours; use “check again” to retry."
    assert before <= ticket.finished_at <= after


def test_a_ticket_just_inside_its_age_is_still_polled(make_ticket: MakeTicket,
                                                      echo_kind: engine.Kind) -> None:
    echo_kind.max_age_seconds = 7200
    young = timezone.now() - timedelta(seconds=7100)
    ticket, _, _ = _step(make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                                     queued_at=young))
    assert ticket.state == Ticket.State.DONE


@pytest.mark.parametrize("state", [Ticket.State.DONE, Ticket.State.FAILED,
                                   Ticket.State.EXPIRED])
def test_check_again_resets_a_finished_ticket_and_makes_it_due(
        make_ticket: MakeTicket, state: str) -> None:
    long_ago = timezone.now() - timedelta(days=2)
    ticket = make_ticket(
        state=state, outcome="paid", remote_id="R-1", last_error="x", attempts=3, polls=4,
        next_poll_at=None, submitted_at=long_ago, processing_at=long_ago, ready_at=long_ago,
        finished_at=long_ago, lease_owner="gone", lease_until=long_ago, queued_at=long_ago)
    before = timezone.now()
    assert engine.check_again(ticket)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.state, ticket.outcome, ticket.remote_id, ticket.last_error) == (
        Ticket.State.QUEUED, "", "", "")
    assert (ticket.attempts, ticket.polls, ticket.lease_owner, ticket.lease_until) == (
        0, 0, "", None)
    assert (ticket.submitted_at, ticket.processing_at, ticket.ready_at,
            ticket.finished_at) == (None, None, None, None)
    assert before <= ticket.queued_at <= timezone.now()
    assert engine.claim_due("worker-1", 5) == [ticket.pk]  # due at once


@pytest.mark.parametrize("state", [Ticket.State.SUBMITTED, Ticket.State.PROCESSING])
def test_check_again_leaves_an_open_ticket_alone(make_ticket: MakeTicket, state: str) -> None:
    ticket = make_ticket(state=state, remote_id="R-1", polls=2)
    assert not engine.check_again(ticket)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.state, ticket.remote_id, ticket.polls) == (state, "R-1", 2)


def test_release_gives_back_only_our_own_leases(make_ticket: MakeTicket) -> None:
    ours, theirs = make_ticket(), make_ticket()
    engine.claim_due("worker-1", 1)
    engine.claim_due("worker-2", 1)
    assert engine.release([ours.pk, theirs.pk], "worker-1") == 1
    rows = {t.pk: (t.lease_owner, t.lease_until) for t in Ticket.objects.all()}
    assert rows[ours.pk] == ("", None)
    assert rows[theirs.pk][0] == "worker-2" and rows[theirs.pk][1] is not None
