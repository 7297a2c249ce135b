"""Engine promises held at save time: a step that lost its lease while it ran saves
nothing, and retryable failures back off by doubling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from revcycle import engine, errors
from revcycle.models import Ticket

MakeTicket = Callable[..., Ticket]


def _run(ticket: Ticket, owner: str = "worker-1") -> Ticket:
    assert engine.claim_due(owner, 1) == [ticket.pk]
    engine.run_step(ticket.pk, owner)
    return Ticket.objects.get(pk=ticket.pk)


def _steal(ticket: Ticket) -> None:
    """Another worker takes the lease (ours expired while the step waited on the network)."""
    Ticket.objects.filter(pk=ticket.pk).update(lease_owner="worker-2")


@pytest.mark.parametrize("step", [
    engine.Submitted("R-9", 200),
    engine.Pending(202, retry_after=1),
    engine.Failed("refused", 400),
], ids=["submitted", "pending", "failed"])
def test_a_step_whose_lease_was_taken_while_it_ran_cannot_save_its_result(
        make_ticket: MakeTicket, echo_kind: engine.Kind, step: engine.Step) -> None:
    # The lease is checked when the step starts; it is lost *during* the step, so only the
    # save's own compare-and-set on lease_owner stands between this worker and the row.
    def submit(t: Ticket) -> engine.Step:
        _steal(t)
        return step

    echo_kind.submit = submit
    ticket = _run(make_ticket())

    assert (ticket.state, ticket.remote_id, ticket.outcome, ticket.last_error) == (
        Ticket.State.QUEUED, "", "", "")
    assert ticket.lease_owner == "worker-2"  # the other worker's lease is untouched


def test_results_are_stored_after_the_lease_checked_state_change_in_its_transaction(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    # The Done step changes the state first: that UPDATE is the compare-and-set on
    # lease_owner and takes the row's lock (PostgreSQL; the write lock on SQLite), so no
    # other worker can take the lease while the results are written, and a lease already
    # lost stores nothing (test_a_done_step_whose_lease_was_taken_stores_nothing).
    seen: list[tuple[str, str]] = []

    def store() -> None:
        seen.append(tuple(Ticket.objects.filter(pk=ticket.pk).values_list(
            "state", "lease_owner").get()))
        raise RuntimeError("disk full")

    echo_kind.poll = lambda t: engine.Done("paid", {"x": 1}, 200, store=store)
    ticket = make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1")
    ticket = _run(ticket)

    assert seen == [(Ticket.State.DONE, "")]
    # The failed store took the state change with it: the ticket is open to try again.
    assert (ticket.state, ticket.outcome) == (Ticket.State.PROCESSING, "")
    assert ticket.response is None


def test_backoff_doubles_with_each_failure(make_ticket: MakeTicket, echo_kind: engine.Kind,
                                           monkeypatch: Any) -> None:
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: 1.0)  # no jitter

    def submit(t: Ticket) -> engine.Step:
        raise errors.Unavailable("busy", status=503)

    echo_kind.submit = submit
    ticket = make_ticket()
    interval = engine.interval_for(ticket)
    waits = []
    for _ in range(5):
        ticket = _run(ticket)
        waits.append(round((ticket.next_poll_at - ticket.updated_at).total_seconds()))
        Ticket.objects.filter(pk=ticket.pk).update(next_poll_at=ticket.updated_at)
    assert waits == [interval * 2 ** n for n in range(5)]  # 15, 30, 60, 120, 240


def test_backoff_stops_growing_at_the_maximum(make_ticket: MakeTicket, echo_kind: engine.Kind,
                                              monkeypatch: Any) -> None:
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: 1.0)
    ticket = make_ticket(state=Ticket.State.PROCESSING, remote_id="R-1", polls=6)

    def poll(t: Ticket) -> engine.Step:
        raise errors.Unavailable("busy", status=503)

    echo_kind.poll = poll
    ticket = _run(ticket)
    assert ticket.next_poll_at - ticket.updated_at == pytest.approx(
        timedelta(seconds=engine.MAX_BACKOFF_SECONDS), abs=timedelta(seconds=1))
