"""What a step does with the ticket it is handed, and what the pump's threads do around it
(written for `make mutants` over run_step, _apply, _fail_or_retry, the pump, _Workers and
register_engine): the ticket a step may not touch, a failure saved only by the lease
holder, the messages a biller reads, the pump going on after an error, and an engine
taking its row when others start at the same moment."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from revcycle import engine, errors
from revcycle.models import Batch, Connection, EnginePump, Ticket
from tests.core.conftest import HeldSteps

MakeTicket = Callable[..., Ticket]


def _claimed(owner: str = "worker-1") -> Ticket:
    [ticket] = engine.claim_tickets(owner, 1)
    return ticket


def test_a_finished_ticket_handed_to_a_step_is_left_alone(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    sent: list[int] = []
    echo_kind.submit = echo_kind.poll = lambda t: sent.append(t.pk) or engine.Done("x")
    ticket = make_ticket()
    claimed = _claimed()
    # Finished meanwhile (by the webhook, say): the object the claim read is stale.
    Ticket.objects.filter(pk=ticket.pk).update(state=Ticket.State.DONE, outcome="paid")
    claimed.state = Ticket.State.DONE
    engine.run_step(claimed, "worker-1")
    engine.run_step(ticket.pk, "worker-1")  # read again by id: finished too
    saved = Ticket.objects.get(pk=ticket.pk)
    assert sent == []
    assert (saved.state, saved.outcome, saved.attempts, saved.lease_owner) == (
        Ticket.State.DONE, "paid", 0, "worker-1")


def test_a_ticket_of_an_unknown_kind_fails_saying_which_kind(make_ticket: MakeTicket) -> None:
    ticket = make_ticket(kind="no_such_kind")
    engine.run_step(_claimed(), "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.outcome, saved.last_error, saved.lease_owner) == (
        Ticket.State.FAILED, "error", "No handler for tickets of kind 'no_such_kind'.", "")
    assert saved.finished_at is not None and saved.next_poll_at is None


def test_a_submitted_ticket_of_a_kind_that_cannot_be_polled_is_retried_saying_why(
        make_ticket: MakeTicket, echo_kind: engine.Kind, monkeypatch: Any) -> None:
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: 1.0)
    echo_kind.poll = None
    ticket = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1")
    engine.run_step(_claimed(), "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert saved.state == Ticket.State.SUBMITTED
    assert saved.last_error == "Kind core_echo cannot be polled. Retrying in 15 s."
    assert (saved.polls, saved.attempts, saved.lease_owner) == (1, 0, "")


def test_a_long_remote_id_and_outcome_are_cut_to_their_columns(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted("R" * 150, 202)
    echo_kind.poll = lambda t: engine.Done("o" * 30, {}, 200)
    ticket = make_ticket()
    engine.run_step(_claimed(), "worker-1")
    assert Ticket.objects.get(pk=ticket.pk).remote_id == "R" * 100
    Ticket.objects.filter(pk=ticket.pk).update(next_poll_at=timezone.now())
    engine.run_step(_claimed(), "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.outcome) == (Ticket.State.DONE, "o" * 20)


def test_a_step_that_raises_is_retried_with_the_errors_type_and_logged_with_where(
        make_ticket: MakeTicket, echo_kind: engine.Kind, caplog: pytest.LogCaptureFixture,
        monkeypatch: Any) -> None:
    monkeypatch.setattr(engine.random, "uniform", lambda low, high: 1.0)

    def submit(t: Ticket) -> engine.Step:
        raise ValueError("JANE DOE")

    echo_kind.submit = submit
    ticket = make_ticket()
    with caplog.at_level(logging.ERROR, logger="revcycle.engine"):
        engine.run_step(_claimed(), "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert saved.last_error == ("An unexpected error (ValueError) while handling the answer. "
                                "Retrying in 15 s.")
    assert (saved.state, saved.attempts, saved.lease_owner) == (Ticket.State.QUEUED, 1, "")
    [line] = [r.getMessage() for r in caplog.records]
    # The innermost frame first: where it was raised, then who called it.
    assert line.startswith(f"ticket {ticket.pk}: step raised ValueError at "
                           "test_engine_steps_run.py:")
    # (Under mutmut run_step's frame is named x_run_step__mutmut_orig.)
    assert " in submit <- engine.py:" in line and "run_step" in line.rsplit(" in ", 1)[1]


def test_where_names_an_unknown_place_for_an_exception_never_raised() -> None:
    assert engine._where(ValueError("x")) == "unknown place"


# The pump's threads --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_thread_logs_an_engine_error_and_goes_on_to_the_next_ticket(
        make_ticket: MakeTicket, echo_kind: engine.Kind, caplog: pytest.LogCaptureFixture,
        monkeypatch: Any) -> None:
    tickets = [make_ticket() for _ in range(2)]
    real_step = engine.run_step

    def run_step(ticket: Ticket | int, owner: str, hand_over: Any = None) -> Ticket | None:
        if isinstance(ticket, Ticket) and ticket.pk == tickets[0].pk:
            raise OperationalError("the database went away")
        return real_step(ticket, owner, hand_over)

    monkeypatch.setattr(engine, "run_step", run_step)
    claimed = engine.claim_tickets("owner-a", 2)
    workers = engine._Workers(1, "owner-a")
    try:
        with caplog.at_level(logging.ERROR, logger="revcycle.engine"):
            for ticket in sorted(claimed, key=lambda t: t.pk):
                workers.submit(ticket)
            assert workers.wait_free(1, timeout=30) == 1
    finally:
        workers.stop()
    assert (workers.done, workers.busy, workers.free) == (2, 0, 1)
    assert [r.getMessage() for r in caplog.records] == [
        f"ticket {tickets[0].pk}: engine error OperationalError"]
    assert Ticket.objects.get(pk=tickets[1].pk).state == Ticket.State.SUBMITTED


def test_a_worker_pool_has_the_threads_asked_and_counts_a_submitted_job_busy(
        db: Any) -> None:
    workers = engine._Workers(3, "owner-a")
    try:
        assert [t.name for t in workers.threads] == ["engine-0", "engine-1", "engine-2"]
        assert all(t.daemon and t.is_alive() for t in workers.threads)
        assert (workers.free, workers.busy, workers.done) == (3, 0, 0)
        # Nothing freed a thread: the wait gives up after its timeout with what is free.
        assert workers.wait_free(4, timeout=0.01) == 3
    finally:
        workers.stop()
    assert not any(t.is_alive() for t in workers.threads)


@pytest.mark.django_db(transaction=True)
def test_the_pump_goes_on_after_a_failed_scan_and_beats_with_its_steps(
        make_ticket: MakeTicket, echo_kind: engine.Kind, caplog: pytest.LogCaptureFixture,
        monkeypatch: Any) -> None:
    echo_kind.submit = lambda t: engine.Done("paid", {}, 200)
    ticket = make_ticket()
    real_claim = engine.claim_tickets
    scans: list[dict[str, Any]] = []

    def claim(owner: str, limit: int, **kwargs: Any) -> list[Ticket]:
        scans.append({"owner": owner, "limit": limit, **kwargs})
        if len(scans) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_claim(owner, limit, **kwargs)

    monkeypatch.setattr(engine, "claim_tickets", claim)
    beats: list[int] = []
    with caplog.at_level(logging.WARNING, logger="revcycle.engine"):
        steps = engine.pump(60, threads=2, scan_every=0.01, owner="pump-1",
                            heartbeat=beats.append,
                            stop=lambda: not Ticket.objects.open().exists())
    assert steps == 1
    assert Ticket.objects.get(pk=ticket.pk).state == Ticket.State.DONE
    assert [r.getMessage() for r in caplog.records] == [
        "engine scan failed (OperationalError); retrying"]
    assert scans[1] == {"owner": "pump-1", "limit": 2, "kinds": None, "batch_id": None,
                        "count_attempts": True}
    # The first scan that worked beats at once (none had run a step); later ones every 2 s.
    assert beats[0] == 0 and set(beats) <= {0, 1}


@pytest.mark.django_db(transaction=True)
def test_a_pump_whose_threads_are_all_busy_waits_for_one_instead_of_claiming_for_none(
        make_ticket: MakeTicket, held_steps: HeldSteps) -> None:
    make_ticket()
    make_ticket()
    with held_steps.released_after(1.5):
        # Both threads held past the run's end: one claim, then a wait for a free thread
        # (scan_every, longer than the run), not a loop of claims for no ticket.
        engine.pump(0.5, threads=2, scan_every=1.0)
    assert [asked for asked, _ in held_steps.claims] == [2]


@pytest.mark.django_db(transaction=True)
def test_a_pump_claims_again_as_soon_as_one_thread_is_freed(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection) -> None:
    # 8 threads: one step ends at once, seven are held (3 s). The ninth ticket is claimed
    # once the one thread is free, after gathering for at most CLAIM_GATHER_SECONDS: not
    # after the scan interval (10 s), and not when a second thread is free.
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=100)
    gate = threading.Event()
    now = timezone.now()
    quick = make_ticket(next_poll_at=now - timedelta(seconds=20))
    held = {make_ticket(next_poll_at=now - timedelta(seconds=10)).pk for _ in range(7)}
    probe = make_ticket(next_poll_at=now)
    probe_ran: list[bool] = []

    def submit(t: Ticket) -> engine.Step:
        if t.pk in held:
            gate.wait(30)
        elif t.pk == probe.pk:
            probe_ran.append(gate.is_set())
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    release = threading.Timer(3, gate.set)
    release.start()
    try:
        engine.pump(60, threads=8, scan_every=10, stop=lambda: bool(probe_ran) or gate.is_set())
    finally:
        gate.set()
        release.cancel()
    assert probe_ran == [False]
    assert Ticket.objects.get(pk=quick.pk).state == Ticket.State.SUBMITTED


@pytest.mark.django_db(transaction=True)
def test_a_pump_whose_threads_are_all_busy_still_sees_stop_at_each_scan(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    gate = threading.Event()
    echo_kind.submit = lambda t: gate.wait(30) and engine.Submitted("R-1", 200)
    make_ticket()
    asked: list[bool] = []  # whether the held step had been released, at each stop()

    def stop() -> bool:
        asked.append(gate.is_set())
        return len(asked) > 1

    release = threading.Timer(3, gate.set)
    release.start()
    try:
        engine.pump(60, threads=1, scan_every=0.3, stop=stop)
    finally:
        gate.set()
        release.cancel()
    assert asked == [False, False]  # asked again after scan_every, the step still held


def test_the_pump_beats_at_its_first_scan_then_once_more_than_two_seconds_have_passed(
        db: Any, monkeypatch: Any) -> None:
    # The pump's clock is a counter moved 1 s per scan (the worker threads keep real time).
    clock = [1000.0]
    monkeypatch.setattr(engine, "time",
                        SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    beats: list[float] = []

    def stop() -> bool:
        clock[0] += 1
        return clock[0] > 1006

    engine.pump(60, threads=1, scan_every=0.01, stop=stop,
                heartbeat=lambda done: beats.append(clock[0]))
    assert beats == [1001, 1004]


@pytest.mark.django_db(transaction=True)
def test_a_pump_for_one_batch_and_kind_runs_only_its_tickets(
        make_ticket: MakeTicket, echo_kind: engine.Kind, st_marys: Any,
        integrex: Connection) -> None:
    echo_kind.submit = lambda t: engine.Done("paid", {}, 200)
    batch = Batch.objects.create(kind="core_echo", facility=st_marys, connection=integrex)
    ours = make_ticket(batch=batch)
    # Due sooner: a pump that did not narrow its claims would take these first.
    sooner = timezone.now() - timedelta(seconds=60)
    other_batch = make_ticket(next_poll_at=sooner)
    other_kind = make_ticket(batch=batch, kind="core_other", next_poll_at=sooner)
    steps = engine.pump(60, threads=1, scan_every=0.01, kinds=["core_echo"],
                        batch_id=batch.pk,
                        stop=lambda: Ticket.objects.get(pk=ours.pk).state == "done")
    assert steps == 1
    assert Ticket.objects.get(pk=other_batch.pk).state == Ticket.State.QUEUED
    assert Ticket.objects.get(pk=other_kind.pk).state == Ticket.State.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_pumped_step_whose_lease_was_taken_while_it_ran_saves_nothing(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    ran: list[str] = []

    def submit(t: Ticket) -> engine.Step:
        ran.append(t.lease_owner)
        Ticket.objects.filter(pk=t.pk).update(lease_owner="worker-2")  # taken meanwhile
        return engine.Submitted("R-9", 200)

    echo_kind.submit = submit
    ticket = make_ticket()
    engine.pump(60, threads=1, scan_every=0.01, owner="pump-1", stop=lambda: bool(ran))
    saved = Ticket.objects.get(pk=ticket.pk)
    assert ran == ["pump-1"]
    assert (saved.state, saved.remote_id, saved.lease_owner) == (
        Ticket.State.QUEUED, "", "worker-2")


@pytest.mark.django_db(transaction=True)
def test_a_pump_without_a_thread_count_uses_the_engine_threads_setting(
        db: Any, settings: Any, monkeypatch: Any) -> None:
    settings.ENGINE_THREADS = 3
    sizes: list[int] = []
    real = engine._Workers

    def workers(size: int, owner: str, hand_over: Any = None) -> engine._Workers:
        sizes.append(size)
        return real(size, owner, hand_over)

    monkeypatch.setattr(engine, "_Workers", workers)
    engine.pump(60, stop=lambda: bool(sizes))
    assert sizes == [3]


# A failure saved by the lease holder only ---------------------------------------------


@pytest.mark.parametrize("exc, state", [
    (errors.Unavailable("down", status=503), Ticket.State.SUBMITTED),
    (errors.RateLimited("slow down", retry_after=9), Ticket.State.SUBMITTED),
    (errors.AuthenticationFailed("refused", status=402), Ticket.State.SUBMITTED),
    (errors.BadRequest("no such claim", status=400), Ticket.State.SUBMITTED),
    (errors.Unavailable("down", status=503), "gave-up"),
    (ValueError("a bug in the step"), Ticket.State.SUBMITTED),
], ids=["retried", "rate-limited", "held", "refused", "gave-up", "raised"])
def test_a_failure_whose_lease_was_taken_while_the_step_ran_saves_nothing(
        make_ticket: MakeTicket, echo_kind: engine.Kind, exc: Exception, state: str) -> None:
    def poll(t: Ticket) -> engine.Step:
        Ticket.objects.filter(pk=t.pk).update(lease_owner="worker-2")  # taken meanwhile
        raise exc

    echo_kind.poll = poll
    polls = engine.MAX_RETRYABLE_FAILURES - 1 if state == "gave-up" else 0
    ticket = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1", polls=polls)
    engine.run_step(_claimed(), "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.polls, saved.last_error, saved.last_http_status,
            saved.lease_owner) == (Ticket.State.SUBMITTED, polls, "", None, "worker-2")


def test_refused_credentials_are_logged_with_the_connection_and_status(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        caplog: pytest.LogCaptureFixture) -> None:
    def submit(t: Ticket) -> engine.Step:
        raise errors.AuthenticationFailed("IP not allowed", status=402)

    echo_kind.submit = submit
    make_ticket()
    with caplog.at_level(logging.WARNING, logger="revcycle.engine"):
        engine.run_step(_claimed(), "worker-1")
    assert [r.getMessage() for r in caplog.records] == [
        f"connection {integrex.pk} flagged after HTTP 402"]


def test_where_names_only_the_three_innermost_frames(
        make_ticket: MakeTicket, echo_kind: engine.Kind, caplog: pytest.LogCaptureFixture
        ) -> None:
    def deepest() -> None:
        raise ValueError("x")

    def middle() -> None:
        deepest()

    def submit(t: Ticket) -> engine.Step:
        middle()
        return engine.Submitted("R-1")

    echo_kind.submit = submit
    make_ticket()
    with caplog.at_level(logging.ERROR, logger="revcycle.engine"):
        engine.run_step(_claimed(), "worker-1")
    [line] = [r.getMessage() for r in caplog.records]
    where = line.split(" at ", 1)[1]
    assert [frame.rsplit(" in ", 1)[1] for frame in where.split(" <- ")] == [
        "deepest", "middle", "submit"]


# The engine's row ------------------------------------------------------------------------


def _others_move_first(monkeypatch: Any, *, steal: bool = False, collide: bool = False,
                       times: int = 1000) -> list[str]:
    """Other engines act between this one's look and its write (at most `times` times):
    one takes the free row just found (`steal`), or creates the slot about to be created
    (`collide`). Returns what they did, one entry per move."""
    moves: list[str] = []
    real_first, real_aggregate = QuerySet.first, QuerySet.aggregate

    def first(self: QuerySet[Any]) -> Any:
        found = real_first(self)
        if steal and self.model is EnginePump and found is not None and len(moves) < times:
            EnginePump.objects.filter(slot=found).update(owner=f"other-{len(moves)}",
                                                         heartbeat_at=timezone.now())
            moves.append(f"took {found}")
        return found

    def aggregate(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        found = real_aggregate(self, *args, **kwargs)
        if collide and self.model is EnginePump and len(moves) < times:
            top = found["top"]
            slot = 0 if top is None else top + 1
            EnginePump.objects.create(slot=slot, owner=f"other-{len(moves)}",
                                      heartbeat_at=timezone.now(), started_at=timezone.now())
            moves.append(f"created {slot}")
        return found

    monkeypatch.setattr(QuerySet, "first", first)
    monkeypatch.setattr(QuerySet, "aggregate", aggregate)
    return moves


def test_an_engine_reusing_a_stale_row_takes_it_whole(db: Any) -> None:
    long_ago = timezone.now() - timedelta(minutes=5)
    EnginePump.objects.create(slot=0, owner="dead", heartbeat_at=long_ago,
                              started_at=long_ago, steps_done=40)
    before = timezone.now()
    assert engine.register_engine("me") == 0
    row = EnginePump.objects.get(slot=0)
    assert (row.owner, row.steps_done) == ("me", 0)
    assert row.heartbeat_at == row.started_at and row.started_at >= before


def test_a_free_row_taken_by_another_engine_first_is_left_to_it(
        db: Any, monkeypatch: Any) -> None:
    EnginePump.objects.create(slot=0, owner="", heartbeat_at=timezone.now())
    moves = _others_move_first(monkeypatch, steal=True)
    assert engine.register_engine("me") == 1
    assert moves == ["took 0"]
    assert EnginePump.objects.get(slot=0).owner == "other-0"
    assert EnginePump.objects.get(slot=1).owner == "me"


def test_a_slot_created_by_another_engine_first_sends_it_to_the_next(
        db: Any, monkeypatch: Any) -> None:
    moves = _others_move_first(monkeypatch, collide=True, times=1)
    assert engine.register_engine("me") == 1
    assert moves == ["created 0"]
    assert list(EnginePump.objects.order_by("slot").values_list("owner", flat=True)) == [
        "other-0", "me"]


def test_an_engine_that_loses_every_race_gives_up_after_twenty_looks(
        db: Any, monkeypatch: Any) -> None:
    moves = _others_move_first(monkeypatch, collide=True)
    with pytest.raises(RuntimeError) as raised:
        engine.register_engine("me")
    assert str(raised.value) == (
        "could not register the engine: EnginePump rows keep changing")
    assert moves == [f"created {n}" for n in range(20)]
    assert not EnginePump.objects.filter(owner="me").exists()


# A step run by id (written from run_step's survivors, after the run) -------------------


def test_a_step_run_by_id_without_the_lease_sends_nothing(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    sent: list[int] = []
    echo_kind.submit = lambda t: sent.append(t.pk) or engine.Submitted("R-1", 202)
    ticket = make_ticket()
    assert engine.claim_due("survivor", 1) == [ticket.pk]
    engine.run_step(ticket.pk, "zombie")  # its lease expired and was taken: no request
    assert sent == []
    assert Ticket.objects.get(pk=ticket.pk).attempts == 0


def test_a_step_run_by_id_runs_that_ticket_of_the_owners_leases(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    sent: list[int] = []
    echo_kind.submit = lambda t: sent.append(t.pk) or engine.Submitted("R-1", 202)
    first, second = make_ticket(), make_ticket()
    assert sorted(engine.claim_due("worker-1", 2)) == [first.pk, second.pk]
    engine.run_step(second.pk, "worker-1")
    assert sent == [second.pk]


@pytest.mark.parametrize("case", ["unknown kind", "too old"])
def test_an_unknown_or_expired_ticket_whose_lease_was_taken_is_left_to_the_new_holder(
        make_ticket: MakeTicket, echo_kind: engine.Kind, case: str) -> None:
    too_old = timezone.now() - timedelta(seconds=echo_kind.max_age_seconds + 5)
    ticket = (make_ticket(kind="no_such_kind") if case == "unknown kind"
              else make_ticket(queued_at=too_old))
    claimed = _claimed()
    Ticket.objects.filter(pk=ticket.pk).update(lease_owner="worker-2")
    engine.run_step(claimed, "worker-1")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.last_error, saved.lease_owner) == (
        Ticket.State.QUEUED, "", "worker-2")
