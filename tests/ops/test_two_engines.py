"""Scale-out, proved: two `manage.py engine` processes (as on two machines) on one batch.

Real processes, real HTTP, PostgreSQL: the sandbox is served by gunicorn on a free port
(one process, so it can count the requests it answers at once), the engines are
subprocesses that share nothing but the database. Every ticket is done once, the sandbox
took one POST per ticket, and it never answered more requests at once than the
connection's concurrency cap, though the two engines had more threads than that."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from revcycle.models import Connection, EnginePump, Ticket
from sandbox import benchkit as kit

TICKETS = 48
CAP = 3
# Two engines: 4 threads against a cap of 3, and neither alone can fill it. With 4 threads
# each, the engine whose step had just ended claimed the freed slot at once while the other
# slept between scans: on a loaded machine one engine took all 96 steps and the test, which
# asks that both took part, failed once.
THREADS_PER_ENGINE = 2
DEADLINE = 240.0

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="engines on two machines share one PostgreSQL database; SQLite "
                              "is for one machine (set DATABASE_URL=postgres://...)"),
]


def child_database_url() -> str:
    """The test database, for processes that are not this one."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def children_env(tmp_path: Path) -> dict[str, str]:
    return kit.child_env(DEBUG="1", DJANGO_SETTINGS_MODULE="revcycle.settings",
                         DATABASE_URL=child_database_url(),
                         REVCYCLE_VAR_DIR=str(tmp_path / "var"))


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[kit.Processes]:
    with kit.Processes(tmp_path / "logs") as processes:
        yield processes


@pytest.fixture
def sandbox_root(procs: kit.Processes, children_env: dict[str, str]) -> str:
    port = kit.free_port()
    sandbox = procs.start("sandbox", kit.gunicorn_argv(port, threads=16), children_env)
    root = f"http://{kit.LOOPBACK}:{port}/sandbox"
    kit.wait_http(f"{root}/stats", timeout=60, child=sandbox)
    # Fast enough for a test, slow enough that requests overlap: 80 ms a request, an answer
    # ready 0.5 s after its POST, polled a second later.
    kit.sandbox_knobs(root, latency_ms=80, ready_after=0.5)
    kit.sandbox_reset_stats(root)
    return root


def paid_rows(count: int) -> list[dict[str, str]]:
    """Distinct rows whose trackingId1 ends in 0-3: the sandbox answers them "paid"."""
    rows = kit.claim_rows(count, prefix="TW")
    for i, row in enumerate(rows):
        row["trackingId1"] = f"TW{i:05d}{i % 4}"
    return rows


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def test_two_engines_share_one_batch_once_each_under_the_concurrency_cap(
        procs: kit.Processes, children_env: dict[str, str], sandbox_root: str) -> None:
    world = kit.make_world(sandbox_root, poll_interval=1, concurrency=CAP)
    # Held back until both engines run, so neither can take the whole batch alone.
    hold = timezone.now() + timedelta(hours=1)
    Connection.objects.filter(pk=world.connection.pk).update(backoff_until=hold)
    run = kit.upload_batch(world, paid_rows(TICKETS), "two-engines.csv")
    assert run.tickets == TICKETS

    engines = [procs.start(f"engine-{n}", kit.manage_argv(
        "engine", "--threads", str(THREADS_PER_ENGINE), "--until-idle",
        "--max-seconds", str(DEADLINE)), children_env) for n in (1, 2)]
    wait_for(lambda: EnginePump.objects.exclude(owner="").count() == 2, "both engines")
    Connection.objects.filter(pk=world.connection.pk).update(backoff_until=None)

    for engine in engines:
        assert engine.process.wait(timeout=DEADLINE + 60) == 0, engine.log_path.read_text()

    tickets = Ticket.objects.filter(batch_id=run.batch_id)
    assert tickets.filter(state=Ticket.State.DONE, outcome="paid").count() == TICKETS
    posts = kit.sandbox_posts("TW")
    assert len(posts) == TICKETS and set(posts.values()) == {1}, posts
    stats = kit.sandbox_stats(sandbox_root)
    assert stats["by_service"]["integrex"]["posts"] == TICKETS
    peak = stats["in_flight_peak"]["integrex"]
    assert 2 <= peak <= CAP, peak
    steps = [int(e.log_path.read_text().rsplit("engine stopped after ", 1)[1].split()[0])
             for e in engines]
    assert all(n > 0 for n in steps) and sum(steps) >= 2 * TICKETS, steps
