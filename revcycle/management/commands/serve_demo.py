"""Serve the web app (gunicorn, threaded) and the django-q2 worker together until Ctrl-C.

`make demo` runs this after migrating and seeding. Both run as child processes; when one
stops, the other is stopped too, so Ctrl-C never leaves a worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve revcycle and its background worker at http://127.0.0.1:PORT until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--threads", type=int, default=48,
                            help="Web threads; the in-process sandbox sleeps for its latency.")

    def handle(self, *args: Any, **options: Any) -> None:
        from revcycle.tasks import ensure_pumps

        ensure_pumps()  # start the engine pump now rather than at the scheduler's next wake
        bind = f"{options['host']}:{options['port']}"
        web = subprocess.Popen([
            sys.executable, "-m", "gunicorn", "revcycle.wsgi", "--bind", bind,
            "--worker-class", "gthread", "--workers", "1", "--threads", str(options["threads"]),
            "--timeout", "120", "--access-logfile", "-", "--log-level", "warning",
        ])
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"])
        children = [web, worker]
        self.stdout.write(self.style.SUCCESS(
            f"revcycle is at http://{bind}/ (worker pid {worker.pid}); Ctrl-C stops both."))

        def stop(*_: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            deadline = time.time() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    child.kill()
        os._exit(0)
