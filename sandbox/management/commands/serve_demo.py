"""Serve the web app (gunicorn, threaded), the ticket engine and the django-q2 worker
together until stopped.

`make demo` runs this after migrating and seeding. Each child runs in a process group of
its own, and stopping means signalling the whole group: `qcluster` forks a sentinel,
pusher, monitor and workers that a signal to it alone would leave running. SIGTERM and
SIGINT (Ctrl-C; the children are not in the terminal's group, so only we receive it) both
stop every group, and whatever is left after a grace period is killed.

With DEBUG on, only loopback addresses are served (sandbox/loopback.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from sandbox.loopback import refuse_public_address_with_debug

# The path without its query string, and no referrer: query strings carry patient names
# and dates of birth (search boxes, filters, `next=` links), and a log is not the place
# for PHI. Remote address, time, method, path, protocol, status, bytes, milliseconds.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
GRACE_SECONDS = 15.0


def web_argv(bind: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "revcycle.wsgi", "--bind", bind,
            "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
            "--timeout", "120", "--access-logfile", "-",
            "--access-logformat", ACCESS_LOG_FORMAT, "--log-level", "warning"]


def worker_argv() -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]


def engine_argv() -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "engine"]


def start_in_own_group(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, process_group=0, stdin=subprocess.DEVNULL,
                            cwd=settings.BASE_DIR)


def signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(child.pid, sig)  # the child leads its group: its pgid is its pid
    except ProcessLookupError:
        pass  # the whole group is gone already


def stop_groups(children: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every group, wait for the leaders up to `grace`, then SIGKILL what is left
    of each group (a leader may exit before the processes it forked)."""
    for child in children:
        signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        signal_group(child, signal.SIGKILL)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Command(BaseCommand):
    help = "Serve revcycle, its engine and its worker at http://127.0.0.1:PORT until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--threads", type=int, default=48,
                            help="Web threads; the in-process sandbox sleeps for its latency.")
        parser.add_argument("--grace", type=float, default=GRACE_SECONDS,
                            help="Seconds the children get to stop before they are killed.")

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_public_address_with_debug(options["host"])
        host = options["host"].strip("[]")
        bind = f"[{host}]:{options['port']}" if ":" in host else f"{host}:{options['port']}"
        stop_requested: list[int] = []

        def request_stop(signum: int, frame: Any) -> None:
            stop_requested.append(signum)

        # Handlers first, children second: a signal between the two must not be lost.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        children = [start_in_own_group(web_argv(bind, options["threads"])),
                    start_in_own_group(worker_argv()), start_in_own_group(engine_argv())]
        self.stdout.write(self.style.SUCCESS(
            f"revcycle is at http://{bind}/ (worker pid {children[1].pid}, engine pid "
            f"{children[2].pid}); Ctrl-C stops them all."))
        try:
            # Polled rather than waited on: either child dying, or a signal, ends the demo.
            while not stop_requested and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            stop_groups(children, options["grace"])
        sys.stdout.flush()
        # os._exit as before: the children are gone and nothing else needs tidying.
        os._exit(0 if stop_requested else 1)
