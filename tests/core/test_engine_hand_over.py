"""A step that ends under its connection's cap hands its place to the connection's next due
ticket (revcycle.engine._hand_over): leased in the statements that end the step, run next
by the same thread, and never a place more than the cap allows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as default_db
from django.utils import timezone

from revcycle import engine, leasing
from revcycle.models import Connection, Ticket

MakeTicket = Callable[..., Ticket]
OWNER = "owner-a"
HAND_OVER = engine.HandOver()


def _claim_one(ticket: Ticket) -> Ticket:
    [claimed] = [t for t in engine.claim_tickets(OWNER, 1, count_attempts=True)
                 if t.pk == ticket.pk]
    return claimed


@pytest.fixture
def other(integrex: Connection) -> Connection:
    """A second connection of the same service and cap."""
    return Connection.objects.create(name="Other", kind=integrex.kind,
                                     base_url=integrex.base_url,
                                     max_concurrency=integrex.max_concurrency)


def _two_batches(kind: str, facility: Any, connection: Connection,
                 user_model: Any) -> tuple[Any, Any]:
    from revcycle.models import Batch

    user = user_model.objects.create_user("ana", password="x")
    first, second = (Batch.objects.create(kind=kind, facility=facility, connection=connection,
                                          created_by=user) for _ in range(2))
    return first, second


def _leased(ticket: Ticket) -> tuple[str, bool]:
    ticket.refresh_from_db()
    return ticket.lease_owner, ticket.lease_until is not None


def test_a_step_hands_its_place_to_the_next_due_ticket_of_its_connection(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted(f"R-{t.pk}", 200)
    first = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=2))
    second = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))
    claimed = _claim_one(first)

    following = engine.run_step(claimed, OWNER, HAND_OVER)

    assert following is not None and following.pk == second.pk
    first.refresh_from_db()
    assert (first.state, first.lease_owner) == (Ticket.State.SUBMITTED, "")
    assert _leased(second) == (OWNER, True)
    # It arrives ready for its own step, connection and all, and runs without a claim.
    assert following.connection.pk == second.connection_id
    assert engine.run_step(following, OWNER, HAND_OVER) is None
    second.refresh_from_db()
    assert (second.state, second.remote_id, second.lease_owner) == (
        Ticket.State.SUBMITTED, f"R-{second.pk}", "")


def test_without_a_hand_over_the_place_goes_back_to_the_pump(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    first, second = make_ticket(), make_ticket()
    assert engine.run_step(_claim_one(first), OWNER) is None
    assert _leased(second) == ("", False)


@pytest.mark.parametrize("step", [
    lambda t: engine.Pending(http_status=202),
    lambda t: engine.Done("paid", {"n": t.pk}, 200),
])
def test_pending_and_done_steps_hand_their_place_on_too(
        make_ticket: MakeTicket, echo_kind: engine.Kind, step: Any) -> None:
    echo_kind.poll = step
    first = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                        next_poll_at=timezone.now() - timedelta(seconds=1))
    second = make_ticket()
    following = engine.run_step(_claim_one(first), OWNER, HAND_OVER)
    assert following is not None and following.pk == second.pk
    assert _leased(second) == (OWNER, True)
    assert _leased(first) == ("", False)


def test_a_failed_step_hands_nothing_on(make_ticket: MakeTicket,
                                        echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Failed("Refused: fix the member id.")
    first, second = make_ticket(), make_ticket()
    assert engine.run_step(_claim_one(first), OWNER, HAND_OVER) is None
    assert _leased(second) == ("", False)


def test_a_hand_over_takes_no_ticket_of_another_connection_or_not_yet_due(
        make_ticket: MakeTicket, echo_kind: engine.Kind, other: Connection) -> None:
    first = make_ticket()
    elsewhere = make_ticket(connection=other)
    later = make_ticket(next_poll_at=timezone.now() + timedelta(minutes=5))
    assert engine.run_step(_claim_one(first), OWNER, HAND_OVER) is None
    assert _leased(elsewhere) == ("", False)
    assert _leased(later) == ("", False)


def test_a_hand_over_keeps_to_the_pumps_batch(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        st_marys: Any, django_user_model: Any) -> None:
    ours, theirs = _two_batches(echo_kind.name, st_marys, integrex, django_user_model)
    first = make_ticket(batch=ours, next_poll_at=timezone.now() - timedelta(seconds=2))
    outside = make_ticket(batch=theirs, next_poll_at=timezone.now() - timedelta(seconds=1))
    inside = make_ticket(batch=ours)
    following = engine.run_step(_claim_one(first), OWNER, engine.HandOver(batch_id=ours.pk))
    assert following is not None and following.pk == inside.pk
    assert _leased(outside) == ("", False)


def test_no_hand_over_once_the_cap_is_lowered_below_the_one_claimed_under(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection) -> None:
    first, second = make_ticket(), make_ticket()
    claimed = _claim_one(first)
    assert claimed.claim_cap == integrex.max_concurrency  # type: ignore[attr-defined]
    Connection.objects.filter(pk=integrex.pk).update(
        max_concurrency=integrex.max_concurrency - 1)
    assert engine.run_step(claimed, OWNER, HAND_OVER) is None
    assert _leased(second) == ("", False)


@pytest.mark.parametrize("unusable", [
    {"active": False}, {"flagged_at": timezone.now()},
    {"backoff_until": timezone.now() + timedelta(minutes=1)},
])
def test_no_hand_over_on_a_connection_that_may_not_send(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        unusable: dict[str, Any]) -> None:
    first, second = make_ticket(), make_ticket()
    claimed = _claim_one(first)
    Connection.objects.filter(pk=integrex.pk).update(**unusable)
    assert engine.run_step(claimed, OWNER, HAND_OVER) is None
    assert _leased(second) == ("", False)


def test_a_place_is_handed_on_at_most_chain_steps_times_then_goes_back_to_the_pump(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "CHAIN_STEPS", 2)
    tickets = [make_ticket(next_poll_at=timezone.now() - timedelta(seconds=10 - i))
               for i in range(4)]
    ran = [tickets[0].pk]
    following = engine.run_step(_claim_one(tickets[0]), OWNER, HAND_OVER)
    while following is not None:
        ran.append(following.pk)
        following = engine.run_step(following, OWNER, HAND_OVER)
    assert ran == [t.pk for t in tickets[:3]]
    assert _leased(tickets[3]) == ("", False)


def test_a_step_that_lost_its_lease_gives_the_place_it_took_back(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    first, second = make_ticket(), make_ticket()
    claimed = _claim_one(first)
    # Its lease expired mid-step and another engine took the ticket.
    Ticket.objects.filter(pk=first.pk).update(lease_owner="owner-b")
    assert engine.run_step(claimed, OWNER, HAND_OVER) is None
    assert _leased(second) == ("", False)
    assert _leased(first)[0] == "owner-b"


def test_a_done_step_whose_store_fails_keeps_no_hand_over(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any) -> None:
    def store() -> None:
        raise ValueError("a bug while storing")

    released: list[list[int]] = []
    give_back = engine.release
    monkeypatch.setattr(engine, "release",
                        lambda ids, owner: released.append(ids) or give_back(ids, owner))
    echo_kind.poll = lambda t: engine.Done("paid", {"n": t.pk}, 200, store=store)
    first = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                        next_poll_at=timezone.now() - timedelta(seconds=1))
    second = make_ticket()
    assert engine.run_step(_claim_one(first), OWNER, HAND_OVER) is None
    # Rolled back with the Done state: the next ticket is free for any engine. On
    # PostgreSQL the hand-over was in the rolled-back statement: nothing to give back;
    # SQLite's, a statement of its own, is given back.
    assert _leased(second) == ("", False)
    assert released == ([] if leasing.saves_and_takes_at_once() else [[second.pk]])
    first.refresh_from_db()
    assert first.state == Ticket.State.SUBMITTED and first.lease_owner == ""


def test_a_queued_idempotent_query_handed_a_place_counts_its_attempt_once(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.idempotent = True
    sent: list[int] = []

    def submit(ticket: Ticket) -> engine.Step:
        sent.append(ticket.attempts)
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    first, second = make_ticket(), make_ticket()
    following = engine.run_step(_claim_one(first), OWNER, HAND_OVER)
    assert following is not None and following.attempts == 1
    engine.run_step(following, OWNER, HAND_OVER)
    second.refresh_from_db()
    assert second.attempts == 1 and sent == [1, 1]


def test_a_durable_kind_handed_a_place_counts_its_attempt_before_sending(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    seen: list[int] = []

    def submit(ticket: Ticket) -> engine.Step:
        seen.append(Ticket.objects.get(pk=ticket.pk).attempts)  # as saved when it sends
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    first, second = make_ticket(), make_ticket()
    following = engine.run_step(_claim_one(first), OWNER, HAND_OVER)
    assert following is not None and following.attempts == 0
    engine.run_step(following, OWNER, HAND_OVER)
    assert seen == [1, 1]
    second.refresh_from_db()
    assert second.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_pump_never_has_more_steps_running_than_the_cap(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection) -> None:
    """Eight threads, a cap of three, twenty tickets handed on from step to step: the
    most steps running at once, counted inside the steps, is the cap."""
    import threading
    import time

    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=3)
    lock, running, peak = threading.Lock(), [0], [0]

    def submit(ticket: Ticket) -> engine.Step:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return engine.Done("paid", {"n": ticket.pk}, 200)

    echo_kind.submit = submit
    for _ in range(20):
        make_ticket()
    deadline = time.monotonic() + 60
    engine.pump(60, threads=8, stop=lambda: time.monotonic() > deadline or not
                Ticket.objects.filter(state=Ticket.State.QUEUED).exists())
    assert Ticket.objects.filter(state=Ticket.State.DONE).count() == 20
    assert peak[0] == 3


@pytest.mark.skipif(default_db.vendor != "postgresql", reason="bitmap scans are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_an_engine_threads_connection_plans_without_bitmap_scans(db: Any) -> None:
    """A hand-over is one autocommit statement, with no transaction for SET LOCAL: the
    setting is the thread's connection's, and comes back after a reconnect."""
    import threading

    seen: list[str] = []

    def thread() -> None:
        from django.db import connection, connections

        try:
            leasing.plain_index_scans_in_this_thread()
            for _ in range(2):
                with connection.cursor() as cursor:
                    cursor.execute("SHOW enable_bitmapscan")
                    seen.append(cursor.fetchone()[0])
                connection.close()  # reconnects at the next query
        finally:
            connections.close_all()

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join(30)
    assert seen == ["off", "off"]
    with default_db.cursor() as cursor:  # not this (non-engine) thread's
        cursor.execute("SHOW enable_bitmapscan")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.skipif(default_db.vendor != "postgresql", reason="bitmap scans are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_pumps_threads_plan_without_bitmap_scans(make_ticket: MakeTicket,
                                                      echo_kind: engine.Kind) -> None:
    from django.db import connection

    seen: list[str] = []

    def submit(ticket: Ticket) -> engine.Step:
        with connection.cursor() as cursor:  # the step's thread's own connection
            cursor.execute("SHOW enable_bitmapscan")
            seen.append(cursor.fetchone()[0])
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    make_ticket()
    engine.pump(30, threads=1, stop=lambda: bool(seen))
    assert seen == ["off"]


def test_a_failed_hand_over_costs_the_step_nothing(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """The POST was answered: recorded as a failure, it would be sent again. On PostgreSQL
    the hand-over rides on the save's statement, which is then made again without it."""
    from django.db import OperationalError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("canceling statement due to lock timeout")

    at_once = leasing.saves_and_takes_at_once()
    monkeypatch.setattr(leasing, "update_and_take_next" if at_once else "take_next", broken)
    echo_kind.submit = lambda t: engine.Submitted("R-7", 200)
    first, second = make_ticket(), make_ticket()
    assert engine.run_step(_claim_one(first), OWNER, HAND_OVER) is None
    first.refresh_from_db()
    assert (first.state, first.remote_id, first.last_error, first.lease_owner) == (
        Ticket.State.SUBMITTED, "R-7", "", "")
    assert _leased(second) == ("", False)
    message = (f"hand-over with ticket {first.pk}'s save failed (OperationalError)" if at_once
               else f"hand-over after ticket {first.pk} failed (OperationalError)")
    assert [r.getMessage() for r in caplog.records if r.name == "revcycle.engine"] == [message]


def test_a_hand_over_never_takes_the_ticket_it_is_handed_from(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    """A step that outlived its lease (a slow answer) leaves its ticket due and unleased to
    the pick: handed to itself, the ticket would be run again from the state it was read
    in, its POST sent twice."""
    sent: list[int] = []

    def submit(ticket: Ticket) -> engine.Step:
        sent.append(ticket.pk)
        return engine.Submitted(f"R-{ticket.pk}", 200)

    echo_kind.submit = submit
    first = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=2))
    second = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))
    claimed = _claim_one(first)
    # The lease ran out during the call; no other engine took the ticket meanwhile.
    Ticket.objects.filter(pk=first.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1))

    following = engine.run_step(claimed, OWNER, HAND_OVER)

    assert following is not None and following.pk == second.pk
    assert sent == [first.pk]
    first.refresh_from_db()
    assert (first.state, first.lease_owner, first.lease_until) == (
        Ticket.State.SUBMITTED, "", None)


@pytest.mark.skipif(default_db.vendor != "sqlite", reason="an old SQLite's limit")
def test_without_update_returning_the_pump_claims_every_place(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any) -> None:
    """SQLite before 3.35 has no UPDATE ... RETURNING (Django 5.2 accepts 3.31)."""
    monkeypatch.setattr(default_db.features, "can_return_columns_from_insert", False)
    first, second = make_ticket(), make_ticket()
    assert engine.run_step(_claim_one(first), OWNER, HAND_OVER) is None
    first.refresh_from_db()
    assert first.state == Ticket.State.SUBMITTED
    assert _leased(second) == ("", False)


def test_a_ticket_read_by_its_id_hands_nothing_on(make_ticket: MakeTicket,
                                                  echo_kind: engine.Kind) -> None:
    """Not claimed by this step's engine (claim_due's ids): no cap it was claimed under."""
    first, second = make_ticket(), make_ticket()
    [claimed] = engine.claim_due(OWNER, 1)
    assert claimed == first.pk
    assert engine.run_step(claimed, OWNER, HAND_OVER) is None
    first.refresh_from_db()
    assert first.state == Ticket.State.SUBMITTED
    assert _leased(second) == ("", False)


@pytest.mark.django_db(transaction=True)
def test_at_a_chains_end_the_thread_claims_in_due_order_across_connections(
        make_ticket: MakeTicket, echo_kind: engine.Kind, other: Connection,
        monkeypatch: Any) -> None:
    """No pump here: a thread whose place was handed on CHAIN_STEPS times gives it back
    and claims at once, and the soonest due ticket of any connection comes first."""
    monkeypatch.setattr(engine, "CHAIN_STEPS", 1)
    ran: list[int] = []

    def submit(ticket: Ticket) -> engine.Step:
        ran.append(ticket.pk)
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    now = timezone.now()
    a1 = make_ticket(next_poll_at=now - timedelta(seconds=10))
    b1 = make_ticket(connection=other, next_poll_at=now - timedelta(seconds=5))
    a2 = make_ticket(next_poll_at=now - timedelta(seconds=1))
    workers = engine._Workers(1, OWNER, HAND_OVER)
    try:
        workers.submit(_claim_one(a1))
        assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()
    assert ran == [a1.pk, a2.pk, b1.pk]
    assert workers.done == 3
    assert not Ticket.objects.exclude(lease_owner="").exists()


@pytest.mark.django_db(transaction=True)
def test_a_chains_end_claim_keeps_to_the_pumps_filters_counts_and_traces_it(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        st_marys: Any, django_user_model: Any, monkeypatch: Any, tmp_path: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """One ticket claimed (not two), of the pump's batch, its first attempt counted by the
    claim, the claim traced for the bench; nothing left to claim is no error."""
    import json

    from revcycle import enginetrace

    monkeypatch.setattr(engine, "CHAIN_STEPS", 0)  # every step ends its chain
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("ENGINE_TRACE_FILE", str(trace))
    monkeypatch.setattr(enginetrace, "_files", {})
    echo_kind.idempotent = True
    ran: list[tuple[int, int, bool]] = []

    def submit(ticket: Ticket) -> engine.Step:
        # Counted by the claim's UPDATE, not by a statement of the step's own.
        ran.append((ticket.pk, ticket.attempts, getattr(ticket, "attempt_counted", False)))
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    ours, theirs = _two_batches(echo_kind.name, st_marys, integrex, django_user_model)
    now = timezone.now()
    first = make_ticket(batch=ours, next_poll_at=now - timedelta(seconds=10))
    outside = make_ticket(batch=theirs, next_poll_at=now - timedelta(seconds=6))
    other_kind = make_ticket(batch=ours, kind="core_other",
                             next_poll_at=now - timedelta(seconds=5))
    second = make_ticket(batch=ours, next_poll_at=now - timedelta(seconds=2))
    third = make_ticket(batch=ours, next_poll_at=now - timedelta(seconds=1))
    workers = engine._Workers(1, OWNER, engine.HandOver(kinds=[echo_kind.name],
                                                        batch_id=ours.pk))
    try:
        with caplog.at_level(logging.WARNING, logger="revcycle.engine"):
            workers.submit(_claim_one(first))
            assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()
    assert ran == [(first.pk, 1, True), (second.pk, 1, True), (third.pk, 1, True)]
    assert _leased(outside) == ("", False) and _leased(other_kind) == ("", False)
    assert not Ticket.objects.exclude(lease_owner="").exists()
    assert not caplog.records
    claims = [e for e in map(json.loads, trace.read_text().splitlines())
              if e["what"] == "claim"]
    assert [(e["asked"], e["got"]) for e in claims] == [(1, 1), (1, 1), (1, 0)]
    assert all(isinstance(e["start"], float) and e["end"] >= e["start"] for e in claims)


@pytest.mark.django_db(transaction=True)
def test_a_chains_end_claim_that_fails_is_logged_and_the_thread_goes_on(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    from django.db import OperationalError

    monkeypatch.setattr(engine, "CHAIN_STEPS", 0)
    first = make_ticket()
    claimed = _claim_one(first)

    def broken(*args: Any, **kwargs: Any) -> list[Ticket]:
        raise OperationalError("the database went away")

    monkeypatch.setattr(engine, "claim_tickets", broken)
    workers = engine._Workers(1, OWNER, HAND_OVER)
    try:
        with caplog.at_level(logging.WARNING, logger="revcycle.engine"):
            workers.submit(claimed)
            assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "claim after a chain's end failed (OperationalError)"]
    first.refresh_from_db()
    assert first.state == Ticket.State.SUBMITTED and workers.done == 1


@pytest.mark.django_db(transaction=True)
def test_a_step_that_found_nothing_to_hand_on_before_its_chains_end_claims_nothing(
        make_ticket: MakeTicket, echo_kind: engine.Kind, other: Connection,
        monkeypatch: Any) -> None:
    """Only a chain's end claims at once; a connection with nothing more due leaves the
    thread to the pump, which scans every connection (here there is none)."""
    monkeypatch.setattr(engine, "CHAIN_STEPS", 1)
    first = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=5))
    elsewhere = make_ticket(connection=other)
    workers = engine._Workers(1, OWNER, HAND_OVER)
    try:
        workers.submit(_claim_one(first))
        assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()
    assert workers.done == 1
    assert _leased(elsewhere) == ("", False)
    elsewhere.refresh_from_db()
    assert elsewhere.state == Ticket.State.QUEUED


def test_a_hand_over_keeps_to_the_pumps_kinds(make_ticket: MakeTicket,
                                              echo_kind: engine.Kind) -> None:
    now = timezone.now()
    first = make_ticket(next_poll_at=now - timedelta(seconds=3))
    other_kind = make_ticket(kind="core_other", next_poll_at=now - timedelta(seconds=2))
    ours = make_ticket(next_poll_at=now - timedelta(seconds=1))
    following = engine.run_step(_claim_one(first), OWNER,
                                engine.HandOver(kinds=[echo_kind.name]))
    assert following is not None and following.pk == ours.pk
    assert _leased(other_kind) == ("", False)


def test_a_backoff_that_has_ended_does_not_stop_a_hand_over(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection) -> None:
    first, second = make_ticket(), make_ticket()
    claimed = _claim_one(first)
    Connection.objects.filter(pk=integrex.pk).update(
        backoff_until=timezone.now() - timedelta(seconds=1))
    following = engine.run_step(claimed, OWNER, HAND_OVER)
    assert following is not None and following.pk == second.pk
