"""The engine across threads and processes: concurrent claims, the pump, pump slots."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from django_q.models import OrmQ

from revcycle import engine, tasks
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
    steps = engine.pump(2, threads=4, scan_every=0.05,
                        stop=lambda: not Ticket.objects.open().exists())
    assert steps == 12
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], state="done").count() == 12


def test_a_pump_slot_with_a_live_heartbeat_is_refused(db: Any) -> None:
    EnginePump.objects.create(slot=0, owner="alive", heartbeat_at=timezone.now())
    assert engine.run_pump_slot(0, seconds=0.1) is None
    assert EnginePump.objects.get(slot=0).owner == "alive"


def test_a_stale_pump_slot_is_taken_over_and_released(db: Any, settings: Any) -> None:
    settings.ENGINE_THREADS = 1
    stale = timezone.now() - timedelta(minutes=5)
    EnginePump.objects.create(slot=0, owner="dead", heartbeat_at=stale)
    assert engine.run_pump_slot(0, seconds=0.1) == 0
    slot = EnginePump.objects.get(slot=0)
    assert slot.owner == "" and slot.heartbeat_at is None


def test_ensure_pumps_enqueues_only_for_stale_slots(db: Any, settings: Any) -> None:
    settings.ENGINE_PUMPS = 3
    now = timezone.now()
    EnginePump.objects.create(slot=0, owner="alive", heartbeat_at=now)
    EnginePump.objects.create(slot=1, owner="dead", heartbeat_at=now - timedelta(minutes=5))
    assert tasks.ensure_pumps() == 2  # slot 1 and the never-started slot 2
    assert OrmQ.objects.count() == 2
    assert EnginePump.objects.count() == 3
