"""Dial the sandbox's fault knobs on a running server (it re-reads them within a second).

    python manage.py sandbox_knobs --latency-ms 200 --ready-after 5
    python manage.py sandbox_knobs --error-rate 0.05 --rate-429 0.02 --retry-after 3
    python manage.py sandbox_knobs --unset latency_ms      # back to the setting/default
    python manage.py sandbox_knobs --reset                 # unset every knob
    python manage.py sandbox_knobs --revoke-tokens --reset-stats
    python manage.py sandbox_knobs                         # show the knobs
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.knobs import KNOBS, KNOBS_BY_NAME, effective_knobs, reset_knobs, reset_stats, set_knobs
from sandbox.tokens import revoke_all_tokens


class Command(BaseCommand):
    help = "Show or set the sandbox's runtime knobs (latency, errors, 429s, delays, tokens)."

    def add_arguments(self, parser: CommandParser) -> None:
        for k in KNOBS:
            parser.add_argument("--" + k.name.replace("_", "-"), dest=k.name, type=k.cast,
                                help=f"{k.help} (default {k.default})")
        parser.add_argument("--unset", action="append", default=[], metavar="KNOB",
                            help="unset a stored knob (repeatable)")
        parser.add_argument("--reset", action="store_true", help="unset every stored knob")
        parser.add_argument("--revoke-tokens", action="store_true",
                            help="revoke every issued token now")
        parser.add_argument("--reset-stats", action="store_true", help="zero request counters")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reset"]:
            reset_knobs()
        unknown = [n for n in options["unset"] if n not in KNOBS_BY_NAME]
        if unknown:
            raise CommandError(f"unknown knob(s): {', '.join(unknown)}")
        values: dict[str, Any] = {n: None for n in options["unset"]}
        values.update({k.name: options[k.name] for k in KNOBS if options[k.name] is not None})
        if values:
            set_knobs(**values)
        if options["revoke_tokens"]:
            self.stdout.write(f"revoked {revoke_all_tokens()} token(s)")
        if options["reset_stats"]:
            reset_stats()
            self.stdout.write("request counters reset")
        self.stdout.write(json.dumps(effective_knobs(), indent=2))
