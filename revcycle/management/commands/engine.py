"""Run the ticket engine until stopped: one supervised process per machine.

    python manage.py engine [--threads N] [--until-idle] [--max-seconds S]

It claims due tickets and runs their steps on N threads (ENGINE_THREADS). systemd
(deploy/systemd/revcycle-engine.service) or compose (the `engine` service) keeps it
running; `make demo` starts it beside the web server and the django-q2 worker.

SIGTERM or SIGINT stops it: steps in flight finish (bounded by the HTTP timeouts), tickets
claimed but not yet started are released at once, and a step cut short by a harder kill
leaves a lease that expires (ENGINE_LEASE_SECONDS): no ticket is lost. A second signal
stops it at once. `--until-idle` stops it when no ticket is open (tests, one-off runs)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from revcycle import engine
from revcycle.models import Ticket

IDLE_CHECK_SECONDS = 1.0


def stop_condition(stopping: threading.Event, *, until_idle: bool,
                   max_seconds: float | None) -> Callable[[], bool]:
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    checked = 0.0

    def should_stop() -> bool:
        nonlocal checked
        if stopping.is_set() or (deadline is not None and time.monotonic() >= deadline):
            return True
        if until_idle and time.monotonic() - checked >= IDLE_CHECK_SECONDS:
            checked = time.monotonic()
            return not Ticket.objects.open().exists()
        return False

    return should_stop


class Command(BaseCommand):
    help = "Run the ticket engine (claims due tickets, sends and polls them) until SIGTERM."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--threads", type=int, default=None,
                            help="Requests in flight from this process (default ENGINE_THREADS).")
        parser.add_argument("--until-idle", action="store_true",
                            help="Stop once no ticket is open.")
        parser.add_argument("--max-seconds", type=float, default=None,
                            help="Stop after this many seconds at most.")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()
            # Only flags are set here; a second signal takes the default action (exit).
            signal.signal(signum, signal.SIG_DFL)

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        steps = engine.run_engine(
            threads=options["threads"],
            stop=stop_condition(stopping, until_idle=options["until_idle"],
                                max_seconds=options["max_seconds"]))
        self.stdout.write(f"engine stopped after {steps} steps")
