"""The ticket engine: leases, state changes per step, errors, holds and limits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from revcycle import engine, errors
from revcycle.models import Connection, Ticket

MakeTicket = Callable[..., Ticket]


def run_due(owner: str = "worker-1", limit: int = 50) -> list[int]:
    """What a pump does in one scan, without threads."""
    claimed = engine.claim_due(owner, limit)
    for ticket_id in claimed:
        engine.run_step(ticket_id, owner)
    return claimed


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def make_due(*tickets: Ticket) -> None:
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(next_poll_at=timezone.now())


# Claiming ---------------------------------------------------------------------------


def test_two_owners_never_claim_the_same_ticket(make_ticket: MakeTicket) -> None:
    tickets = [make_ticket() for _ in range(5)]
    first = engine.claim_due("owner-a", 3)
    second = engine.claim_due("owner-b", 10)
    assert len(first) == 3 and len(second) == 2
    assert set(first) | set(second) == {t.pk for t in tickets}


def test_a_leased_ticket_is_not_due_until_the_lease_expires(make_ticket: MakeTicket) -> None:
    ticket = make_ticket()
    assert engine.claim_due("owner-a", 1) == [ticket.pk]
    assert engine.claim_due("owner-b", 1) == []
    Ticket.objects.filter(pk=ticket.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert engine.claim_due("owner-b", 1) == [ticket.pk]


def test_a_killed_workers_ticket_is_picked_up_by_another_and_its_late_save_is_ignored(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    ticket = make_ticket()
    engine.claim_due("killed", 1)  # the worker dies before running the step
    Ticket.objects.filter(pk=ticket.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert engine.claim_due("survivor", 1) == [ticket.pk]
    engine.run_step(ticket.pk, "killed")  # a zombie: no lease, no effect
    assert reload(ticket).state == Ticket.State.QUEUED
    engine.run_step(ticket.pk, "survivor")
    assert reload(ticket).state == Ticket.State.SUBMITTED


def test_a_ticket_not_yet_due_is_not_claimed(make_ticket: MakeTicket) -> None:
    make_ticket(next_poll_at=timezone.now() + timedelta(seconds=30))
    assert engine.claim_due("owner-a", 10) == []


def test_claims_respect_the_connections_concurrency_cap(make_ticket: MakeTicket,
                                                        integrex: Connection,
                                                        payer: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=2)
    for _ in range(5):
        make_ticket()
    other = make_ticket(connection=payer)
    first = engine.claim_due("owner-a", 10)
    assert len(first) == 3 and other.pk in first
    assert engine.claim_due("owner-b", 10) == []


def test_claims_can_be_limited_to_kinds(make_ticket: MakeTicket) -> None:
    make_ticket()
    assert engine.claim_due("owner-a", 10, kinds=["another_kind"]) == []


# One step at a time -----------------------------------------------------------------


def test_submitted_moves_to_submitted_and_polls_after_the_connections_interval(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted("R-77", 202)
    ticket = make_ticket()
    before = timezone.now()
    run_due()
    after = timezone.now()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.SUBMITTED
    assert (ticket.remote_id, ticket.last_http_status, ticket.attempts) == ("R-77", 202, 1)
    interval = timedelta(seconds=ticket.connection.poll_interval_seconds)
    assert before + interval <= ticket.next_poll_at <= after + interval
    assert ticket.lease_owner == "" and ticket.lease_until is None


def test_pending_moves_to_processing_and_waits_at_least_the_retry_after(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.poll = lambda t: engine.Pending(202, retry_after=120)
    ticket = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1")
    before = timezone.now()
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.PROCESSING
    assert ticket.polls == 1 and ticket.processing_at is not None
    assert ticket.next_poll_at >= before + timedelta(seconds=120)


def test_done_stores_the_results_and_finishes(make_ticket: MakeTicket,
                                              echo_kind: engine.Kind) -> None:
    stored: list[int] = []
    echo_kind.poll = lambda t: engine.Done("paid", {"status": "F1"}, 200,
                                           store=lambda: stored.append(t.pk))
    ticket = make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1")
    run_due()
    ticket = reload(ticket)
    assert stored == [ticket.pk]
    assert (ticket.state, ticket.outcome, ticket.response) == ("done", "paid", {"status": "F1"})
    assert ticket.finished_at is not None and ticket.next_poll_at is None
    assert run_due() == []


def test_a_store_that_fails_leaves_the_ticket_open_to_try_again(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    def store() -> None:
        Ticket.objects.filter(pk=ticket.pk).update(payer="half written")
        raise RuntimeError("disk full")

    echo_kind.poll = lambda t: engine.Done("paid", {}, 200, store=store)
    ticket = make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1")
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.PROCESSING
    assert ticket.payer == ""  # rolled back with the step
    assert ticket.next_poll_at > timezone.now()


def test_a_done_step_whose_lease_was_taken_stores_nothing(make_ticket: MakeTicket,
                                                          echo_kind: engine.Kind) -> None:
    stored: list[int] = []

    def slow_submit(t: Ticket) -> engine.Step:
        Ticket.objects.filter(pk=t.pk).update(lease_owner="someone-else")  # our lease expired
        return engine.Done("paid", {}, 200, store=lambda: stored.append(t.pk))

    echo_kind.submit = slow_submit
    ticket = make_ticket()
    run_due()
    assert stored == []
    assert reload(ticket).state == Ticket.State.QUEUED


def test_failed_finishes_with_the_message(make_ticket: MakeTicket,
                                          echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Failed("The member id is unknown.", 200, "not_found")
    ticket = make_ticket()
    run_due()
    ticket = reload(ticket)
    assert (ticket.state, ticket.outcome) == ("failed", "not_found")
    assert ticket.last_error == "The member id is unknown."


def test_bad_request_fails_with_the_servers_message(make_ticket: MakeTicket,
                                                    echo_kind: engine.Kind) -> None:
    def submit(t: Ticket) -> engine.Step:
        raise errors.BadRequest("patientDob is not a date", status=400)

    echo_kind.submit = submit
    ticket = make_ticket()
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.FAILED
    assert ticket.last_error == "patientDob is not a date"
    assert ticket.last_http_status == 400


def test_refused_credentials_flag_the_connection_and_hold_its_tickets(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection) -> None:
    def submit(t: Ticket) -> engine.Step:
        raise errors.AuthenticationFailed("Integrex refused our IP address (402).", status=402)

    echo_kind.submit = submit
    first, other = make_ticket(), make_ticket()
    assert engine.claim_due("worker-1", 1) == [first.pk]
    engine.run_step(first.pk, "worker-1")
    integrex.refresh_from_db()
    assert integrex.is_flagged and "402" in integrex.flagged_reason
    assert reload(first).state == Ticket.State.QUEUED
    assert "On hold" in reload(first).last_error
    make_due(first, other)
    assert engine.claim_due("worker-1", 10) == []
    integrex.clear_flag()
    assert set(engine.claim_due("worker-1", 10)) == {first.pk, other.pk}


def test_rate_limited_slows_the_whole_connection(make_ticket: MakeTicket,
                                                 echo_kind: engine.Kind,
                                                 integrex: Connection, payer: Connection) -> None:
    def submit(t: Ticket) -> engine.Step:
        raise errors.RateLimited("slow down", status=429, retry_after=60)

    echo_kind.submit = submit
    first, other = make_ticket(), make_ticket()
    elsewhere = make_ticket(connection=payer)
    engine.claim_due("worker-1", 1)
    engine.run_step(first.pk, "worker-1")
    integrex.refresh_from_db()
    assert integrex.backoff_until > timezone.now() + timedelta(seconds=50)
    make_due(first, other)
    assert engine.claim_due("worker-1", 10) == [elsewhere.pk]
    assert reload(first).state == Ticket.State.QUEUED


def test_an_unavailable_service_is_retried_then_failed_with_a_clear_message(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    def submit(t: Ticket) -> engine.Step:
        raise errors.Unavailable("Integrex had an error (503).", status=503)

    echo_kind.submit = submit
    ticket = make_ticket()
    for attempt in range(1, engine.MAX_RETRYABLE_FAILURES):
        assert run_due() == [ticket.pk]
        current = reload(ticket)
        assert current.state == Ticket.State.QUEUED, attempt
        assert current.next_poll_at > timezone.now()
        assert "Retrying in" in current.last_error
        make_due(ticket)
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.FAILED
    assert ticket.last_error.startswith(f"Gave up after {engine.MAX_RETRYABLE_FAILURES} attempts")
    assert "503" in ticket.last_error


def test_a_ticket_past_its_max_age_expires(make_ticket: MakeTicket,
                                           echo_kind: engine.Kind) -> None:
    called: list[int] = []
    echo_kind.poll = lambda t: called.append(1) or engine.Pending(202)
    too_old = timezone.now() - timedelta(seconds=echo_kind.max_age_seconds + 5)
    ticket = make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1", queued_at=too_old)
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.EXPIRED
    assert called == []
    assert "check again" in ticket.last_error


@pytest.mark.parametrize("debug", [False, True])
def test_a_step_that_raises_keeps_the_ticket_and_logs_no_patient_data(
        make_ticket: MakeTicket, echo_kind: engine.Kind, caplog: pytest.LogCaptureFixture,
        settings: Any, debug: bool) -> None:
    settings.DEBUG = debug

    def submit(t: Ticket) -> engine.Step:
        raise KeyError("JANE DOE 123-45-6789")

    echo_kind.submit = submit
    ticket = make_ticket()
    with caplog.at_level(logging.DEBUG):
        run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.QUEUED
    assert ticket.next_poll_at > timezone.now()
    assert "KeyError" in ticket.last_error and "JANE" not in ticket.last_error
    assert "KeyError" in caplog.text and "test_engine.py" in caplog.text  # what and where
    assert "JANE" not in caplog.text and "123-45-6789" not in caplog.text


def test_an_unknown_kind_fails_with_a_message(make_ticket: MakeTicket) -> None:
    ticket = make_ticket(kind="no_such_kind")
    run_due()
    ticket = reload(ticket)
    assert ticket.state == Ticket.State.FAILED
    assert "no_such_kind" in ticket.last_error


def test_check_again_requeues_a_finished_ticket(make_ticket: MakeTicket) -> None:
    ticket = make_ticket(state=Ticket.State.FAILED, attempts=3, last_error="x")
    assert engine.check_again(ticket)
    ticket = reload(ticket)
    assert (ticket.state, ticket.attempts, ticket.last_error) == ("queued", 0, "")
    assert not engine.check_again(ticket)  # an open ticket is left alone
