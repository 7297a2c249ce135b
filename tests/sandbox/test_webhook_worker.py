"""The sandbox payer's webhook sender thread can be stopped: a test that served it (the
payer's browser test) ends it before its tables are emptied, so no thread outlives it."""

from __future__ import annotations

import threading
from typing import Any

from sandbox import webhooks


def _senders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sandbox-webhooks" and t.is_alive()]


def test_stop_worker_ends_the_sender_thread_and_a_later_start_makes_a_new_one(
        transactional_db: Any, settings: Any) -> None:
    settings.SANDBOX_WEBHOOK_WORKER = True
    webhooks.ensure_worker()
    first = _senders()
    assert len(first) == 1

    webhooks.stop_worker()
    assert not first[0].is_alive()
    assert _senders() == []

    webhooks.ensure_worker()  # a stop is not a switch-off: the next request starts one
    assert len(_senders()) == 1
    webhooks.stop_worker()
    assert _senders() == []


def test_stop_worker_without_a_running_thread_does_nothing(settings: Any) -> None:
    settings.SANDBOX_WEBHOOK_WORKER = True
    webhooks.stop_worker()
    assert _senders() == []
