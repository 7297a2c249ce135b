"""The engine across threads and processes: concurrent claims, the pump, engine rows."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from django_q.models import Schedule

from revcycle import engine, schedules
from revcycle.models import Connection, EnginePump, Ticket

MakeTicket = Callable[..., Ticket]


@pytest.mark.django_db(transaction=True)
def test_two_threads_claiming_at_once_never_share_a_ticket(make_ticket: MakeTicket,
                                                           integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=100)
    tickets = {make_ticket().pk for _ in range(30)}
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def claim(owner: str) -> None:
        try:
            start.wait()
            while got := engine.claim_due(owner, 2):
                claimed[owner].extend(got)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == sorted(tickets)


@pytest.mark.django_db(transaction=True)
def test_the_pump_runs_every_due_ticket(make_ticket: MakeTicket, echo_kind: engine.Kind,
                                        settings: Any) -> None:
    echo_kind.submit = lambda t: engine.Done("paid", {"n": t.pk}, 200)
    tickets = [make_ticket() for _ in range(12)]
    # Stops once nothing is open; the 60 s is only a bound for a broken pump, not a timing.
    steps = engine.pump(60, threads=4, scan_every=0.05,
                        stop=lambda: not Ticket.objects.open().exists())
    assert steps == 12
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], state="done").count() == 12


def test_an_engine_takes_a_new_row_beside_a_live_one(db: Any) -> None:
    EnginePump.objects.create(slot=0, owner="alive", heartbeat_at=timezone.now())
    assert engine.register_engine("me") == 1
    assert EnginePump.objects.get(slot=0).owner == "alive"
    assert EnginePump.objects.get(slot=1).owner == "me"


def test_an_engine_reuses_a_stale_or_released_row(db: Any) -> None:
    EnginePump.objects.create(slot=0, owner="dead", heartbeat_at=timezone.now() - timedelta(
        minutes=5))
    EnginePump.objects.create(slot=1, owner="", heartbeat_at=timezone.now())
    assert engine.register_engine("first") == 0
    assert engine.register_engine("second") == 1
    assert EnginePump.objects.count() == 2


def test_a_stopped_engine_keeps_its_last_beat_and_frees_its_row(
        db: Any, settings: Any, monkeypatch: Any, caplog: pytest.LogCaptureFixture) -> None:
    """/healthz reads the last beat: a restart must not make it flap. The log says which
    engine took which slot, and when it stopped."""
    settings.ENGINE_THREADS = 1
    monkeypatch.setattr(engine, "new_owner", lambda: "host:1:engine-a")
    caplog.set_level(logging.INFO, logger="revcycle.engine")
    EnginePump.objects.create(slot=0, owner="alive", heartbeat_at=timezone.now())
    assert engine.run_engine(stop=lambda: True) == 0
    row = EnginePump.objects.get(slot=1)
    assert row.owner == "" and row.heartbeat_at is not None
    assert EnginePump.objects.get(slot=0).owner == "alive"
    assert [r.getMessage() for r in caplog.records if r.name == "revcycle.engine"] == [
        "engine host:1:engine-a started in slot 1", "engine host:1:engine-a stopped"]


@pytest.mark.django_db(transaction=True)
def test_a_running_engine_beats_with_the_steps_it_has_run(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        monkeypatch: Any) -> None:
    """The heartbeat moves on and counts the steps; a live engine beside it keeps its row.
    The engine stops once its own row shows the three steps (the 60 s bound is only met
    when the beat is broken)."""
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=3)
    owners = iter(f"host:1:engine-{n}" for n in range(1, 10))
    monkeypatch.setattr(engine, "new_owner", lambda: next(owners))
    leased_by: list[str] = []

    def submit(ticket: Ticket) -> engine.Step:
        leased_by.append(ticket.lease_owner)
        return engine.Done("paid", {}, 200)

    echo_kind.submit = submit
    for _ in range(3):
        make_ticket()
    other = EnginePump.objects.create(slot=0, owner="alive", heartbeat_at=timezone.now(),
                                      steps_done=7)
    bound = time.monotonic() + 60
    engine.run_engine(stop=lambda: EnginePump.objects.filter(slot=1, steps_done=3).exists()
                      or time.monotonic() > bound, threads=3, scan_every=0.05)
    ours = EnginePump.objects.get(slot=1)
    assert ours.steps_done == 3 and ours.owner == ""
    assert ours.heartbeat_at > ours.started_at  # beaten since it registered
    assert leased_by == ["host:1:engine-1"] * 3  # the tickets were leased under its row's name
    other.refresh_from_db()
    assert (other.owner, other.steps_done) == ("alive", 7)


def test_an_engine_whose_row_was_taken_over_leaves_it_to_the_new_holder(
        db: Any, settings: Any, monkeypatch: Any) -> None:
    """An engine paused past HEARTBEAT_STALE may find its slot taken by a new engine: its
    beats and its exit must not touch the new holder's row."""
    settings.ENGINE_THREADS = 1
    monkeypatch.setattr(engine, "new_owner", lambda: "host:1:paused")
    scans = 0

    def stop() -> bool:
        nonlocal scans
        scans += 1
        if scans == 1:  # while it runs, another engine takes its slot
            EnginePump.objects.filter(slot=0).update(owner="host:2:new", steps_done=5)
        return scans > 2

    engine.run_engine(stop=stop, scan_every=0.01)
    row = EnginePump.objects.get(slot=0)
    assert (row.owner, row.steps_done) == ("host:2:new", 5)


@pytest.mark.django_db(transaction=True)
def test_tickets_claimed_but_not_started_when_the_engine_stops_are_released(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    """SIGTERM must not leave leases behind for tickets no thread began: they are due again
    at once, for any engine, instead of after ENGINE_LEASE_SECONDS."""
    tickets = [make_ticket() for _ in range(3)]
    owner = "stopping-engine"
    claimed = engine.claim_due(owner, 3)
    assert len(claimed) == 3
    workers = engine._Workers(2, owner)
    workers.stopping.set()  # as pump() does on the way out, before the queue drains
    for ticket_id in claimed:
        workers.submit(ticket_id)
    workers.stop()
    assert Ticket.objects.filter(lease_owner=owner).count() == 0
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], state="queued").count() == 3
    assert sorted(engine.claim_due("next-engine", 3)) == sorted(claimed)


def test_the_retired_pump_schedule_is_removed_on_migrate(db: Any) -> None:
    Schedule.objects.create(name="engine: keep pumps running",
                            func="revcycle.tasks.ensure_pumps", schedule_type=Schedule.MINUTES,
                            minutes=1, repeats=-1)
    schedules.install()
    assert not Schedule.objects.filter(func="revcycle.tasks.ensure_pumps").exists()
