"""`manage.py healthz --check`: what /healthz says, for monitors that cannot do HTTP.

Exit status 0 when the database answers and a worker's engine heartbeat is recent, 1
otherwise; one line of JSON on stdout, the same as the endpoint's body."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from revcycle import health


class Command(BaseCommand):
    help = "Check the database and the worker heartbeat, as /healthz does (exit 0 or 1)."
    # No system checks: they need the database this command is about to report on.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true",
                            help="Accepted for clarity in monitor configs; checking is "
                                 "what this command always does.")

    def handle(self, *args: Any, **options: Any) -> None:
        state = health.check()
        self.stdout.write(json.dumps(state.as_dict()))
        if not state.ok:
            sys.exit(1)
