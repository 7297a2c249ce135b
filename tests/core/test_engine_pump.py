"""The engine across threads and processes: concurrent claims, the pump, engine rows."""

from __future__ import annotations

import threading
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


def test_a_stopped_engine_keeps_its_last_beat_and_frees_its_row(db: Any, settings: Any) -> None:
    """/healthz reads the last beat: a restart must not make it flap."""
    settings.ENGINE_THREADS = 1
    assert engine.run_engine(stop=lambda: True) == 0
    row = EnginePump.objects.get()
    assert row.owner == "" and row.heartbeat_at is not None


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
