"""A biller uploads a file over the background threshold: the batch page says the file is
being read, a django-q2 worker reads it from the real queue, and the page turns into the
batch with its rows, which the engine then runs against the sandbox."""

from __future__ import annotations

import pydoc
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from revcycle.models import Batch, Ticket, UploadChunk
from tests.e2e.test_claim_status import _csv, sandbox_integrex  # noqa: F401 - a fixture

ROWS = 30


@pytest.fixture
def q_worker(transactional_db: Any) -> Iterator[Callable[[], None]]:
    """A django-q2 worker in a thread, started by the test: it takes the tasks from the
    configured broker as they were queued (signed packages), runs them, acknowledges them."""
    from django.db import connections
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    stop = threading.Event()

    def work() -> None:
        broker = get_broker()
        try:
            # Looks at the queue every 0.2 s (a real cluster every 0.5 s: Q_CLUSTER's poll).
            while not stop.wait(0.2):
                for ack_id, payload in broker.dequeue() or []:
                    task = SignedPackage.loads(payload)
                    pydoc.locate(task["func"])(*task["args"], **task["kwargs"])
                    broker.acknowledge(ack_id)
        finally:
            connections.close_all()  # this thread's, which would outlive the test otherwise

    thread = threading.Thread(target=work, daemon=True)
    yield thread.start
    stop.set()
    if thread.is_alive():
        # A task being read finishes first: 30 rows against the sandbox take seconds.
        thread.join(timeout=40)


@pytest.mark.e2e
def test_a_large_file_shows_that_it_is_being_read_then_its_rows(
        page, login, alice, sandbox_integrex, engine_worker, q_worker,  # noqa: F811
        settings) -> None:
    body = _csv(ROWS)
    settings.UPLOAD_BACKGROUND_BYTES = len(body) - 1
    login(alice)
    page.goto("/claims/status/batches/upload/")
    page.set_input_files("input[name=file]", files=[{
        "name": "claims.csv", "mimeType": "text/csv", "buffer": body}])
    page.click("button[type=submit]")
    page.wait_for_url("**/claims/status/batches/*/")

    page.wait_for_selector("[data-testid=batch-reading]")
    assert "Reading the file." in page.inner_text("[data-testid=batch-reading]")
    assert page.inner_text("[data-count=rows-read]") == "0"
    assert Ticket.objects.count() == 0 and UploadChunk.objects.count() == 1

    q_worker()  # a worker takes the task from the queue

    # 60 s: the worker reads the file, the page reloads, then 30 lookups run as in
    # test_claim_status.py (1 s at the sandbox each, 8 engine threads), then a poll.
    page.wait_for_selector("[data-testid=batch-finished]", timeout=60_000)
    # The whole page was drawn anew, not only the polled part: the counts are there too.
    assert f"{ROWS} rows: {ROWS} lookups, 0 invalid" in page.inner_text("dl.kv")
    assert page.inner_text("[data-count=total]") == str(ROWS)
    assert page.locator("#batch-rows tbody tr[data-state=done]").count() == ROWS
    assert Batch.objects.get().state == Batch.State.READ
    assert UploadChunk.objects.count() == 0
