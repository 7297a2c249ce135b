"""Connections for scripted deployments: `connection add|list|test`.

Secrets never travel in argv (it shows in `ps` and shell history): `--secret-fields` names
the secrets to set and their values are read from standard input, one `field=value` per
line, or asked for with getpass when standard input is a terminal. Standard input that is
not a terminal is always read to its end, so a secret piped in without `--secret-fields`
is refused instead of silently dropped, and a connection of a kind that authenticates is
never created without its secrets. Moving a connection to
production (P) needs `--confirm-production` and is recorded in the audit log, as in the
admin."""

from __future__ import annotations

import getpass
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from revcycle import api, oauth, services
from revcycle.audit import record_event
from revcycle.crypto import mask_secret
from revcycle.management.commands.facility import find_facilities
from revcycle.models import Connection

SECRET_FIELDS = ("client_secret", "password", "api_key", "webhook_secret")
# The secrets without which a kind cannot authenticate (webhook_secret is optional: without
# it the payer's claims are polled instead).
REQUIRED_SECRETS = {
    "integrex": ("client_secret",),
    "smart": ("client_secret", "password"),
    "payer": ("api_key",),
}
CREDENTIAL_FIELDS = ("base_url", "client_id", "client_secret", "username", "password")
# option dest -> model field, for the plain (non-secret) settings `add` may change.
PLAIN_OPTIONS = {
    "base_url": "base_url",
    "client_id": "client_id",
    "username": "username",
    "env": "environment",
    "provider_id": "provider_id",
    "health_check_path": "health_check_path",
    "poll_interval": "poll_interval_seconds",
    "rate_limit": "rate_limit_per_second",
    "max_concurrency": "max_concurrency",
}


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(value) from exc


def _secret_names(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECRET_FIELDS]
    if unknown:
        raise ValueError(f"unknown secret field(s) {', '.join(unknown)}")
    return names


class Command(BaseCommand):
    help = "Add or update, list and test connections to external services."
    # Tests (and wrappers) hand in a stream instead of the process's standard input.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        add = actions.add_parser("add", help="Create a connection, or update the one named NAME.")
        add.add_argument("kind", choices=[kind for kind, _ in services.kind_choices()])
        add.add_argument("name")
        add.add_argument("--base-url", help="Required when creating; without a trailing slash.")
        add.add_argument("--client-id")
        add.add_argument("--username")
        add.add_argument("--env", choices=Connection.Environment.values)
        add.add_argument("--provider-id")
        add.add_argument("--health-check-path")
        add.add_argument("--poll-interval", type=int, metavar="SECONDS")
        add.add_argument("--rate-limit", type=_decimal, metavar="PER_SECOND")
        add.add_argument("--max-concurrency", type=int, metavar="N")
        add.add_argument("--facility", nargs="+", action="extend", metavar="NPI_OR_ID",
                         help="Facilities served (replaces the current list).")
        add.add_argument("--secret-fields", type=_secret_names, default=[],
                         metavar="FIELD,FIELD",
                         help=f"Secrets to read from standard input ({', '.join(SECRET_FIELDS)}).")
        add.add_argument("--confirm-production", action="store_true",
                         help="Required to move a connection to P (production).")

        actions.add_parser("list", help="List connections (secrets are never shown).")

        test = actions.add_parser("test", help="Health check, then ask for a token.")
        test.add_argument("name")

        clear = actions.add_parser("clear-hold", help="Resume a connection put on hold (after "
                                                      "fixing its credentials).")
        clear.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdin: TextIO = options.get("stdin") or sys.stdin
        action = options["action"]
        if action == "add":
            self.add(options)
        elif action == "list":
            self.list()
        elif action == "clear-hold":
            self.clear_hold(options["name"])
        else:
            self.test(options["name"])

    # add ------------------------------------------------------------------------------

    def read_secrets(self, names: list[str]) -> dict[str, str]:
        if self.stdin.isatty():
            return {name: getpass.getpass(f"{name}: ") for name in names} if names else {}
        values: dict[str, str] = {}
        for number, line in enumerate(self.stdin, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            field, sep, value = line.partition("=")
            field = field.strip()
            if not names and sep and field in SECRET_FIELDS:
                # The README's old example piped a secret without --secret-fields and the
                # connection was created without it, silently.
                raise CommandError(
                    f"standard input line {number} sets {field}, but --secret-fields does not "
                    f"name it: repeat with --secret-fields {field} (nothing was changed)")
            if not sep or field not in names:
                # Never echo the line: it may be a secret.
                expected = ", ".join(f"{n}=..." for n in names) or "nothing (no --secret-fields)"
                raise CommandError(f"standard input line {number}: expected {expected}; "
                                   "nothing was changed")
            values[field] = value
        empty = [name for name in names if not values.get(name)]
        if empty:
            raise CommandError(f"no value given for {', '.join(empty)} (leave a secret out of "
                               "--secret-fields to keep the stored one)")
        return values

    def require_secrets(self, conn: Connection) -> None:
        missing = [f for f in REQUIRED_SECRETS.get(conn.kind, ()) if not getattr(conn, f)]
        if missing:
            fields = ",".join(missing)
            raise CommandError(
                f"a {conn.kind} connection needs {', '.join(missing)}: pipe "
                f"{' and '.join(f'{m}=...' for m in missing)} into standard input with "
                f"--secret-fields {fields} (nothing was created)")

    def add(self, options: dict[str, Any]) -> None:
        secrets = self.read_secrets(options["secret_fields"])
        facilities = find_facilities(options["facility"]) if options["facility"] else None
        with transaction.atomic():
            conn = Connection.objects.select_for_update().filter(name=options["name"]).first()
            creating = conn is None
            if conn is None:
                if not options["base_url"]:
                    raise CommandError("--base-url is required to create a connection")
                conn = Connection(name=options["name"], kind=options["kind"])
            elif conn.kind != options["kind"]:
                raise CommandError(
                    f"{conn.name} is a {conn.kind} connection, not {options['kind']}")
            before_env = None if creating else conn.environment
            changed = []
            for option, field in PLAIN_OPTIONS.items():
                value = options[option]
                if value is not None and (creating or getattr(conn, field) != value):
                    setattr(conn, field, value)
                    changed.append(field)
            for field, value in secrets.items():
                setattr(conn, field, value)
            to_production = conn.environment == "P" and before_env != "P"
            if to_production and not options["confirm_production"]:
                raise CommandError("moving a connection to P (production) reaches real patient "
                                   "data: repeat with --confirm-production")
            try:
                conn.full_clean()
            except ValidationError as exc:
                raise CommandError("; ".join(
                    f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
                )) from exc
            if creating:
                self.require_secrets(conn)
            conn.save()
            if facilities is not None:
                conn.facilities.set(facilities)
                changed.append("facilities")
            detail = f"manage.py connection add; fields: {', '.join(changed) or 'none'}"
            if secrets:
                detail += f"; secrets replaced: {', '.join(secrets)}"
            if to_production:
                detail = f"environment {before_env or 'new'} -> P; " + detail
            record_event(None, "create" if creating else "change", conn, detail=detail)
        # A token (and a rotating refresh token) belongs to the old credentials.
        if set(changed) & set(CREDENTIAL_FIELDS) or set(secrets) & set(CREDENTIAL_FIELDS):
            oauth.discard(conn.pk)
        verb = "Created" if creating else "Updated"
        self.stdout.write(f"{verb} {conn.name} ({conn.kind}, {conn.environment}).")

    # list and test --------------------------------------------------------------------

    def list(self) -> None:
        rows = Connection.objects.prefetch_related("facilities")
        for conn in rows:
            secrets = ", ".join(f"{f} {mask_secret(getattr(conn, f))}" for f in SECRET_FIELDS
                                if getattr(conn, f))
            state = "flagged" if conn.is_flagged else ("active" if conn.active else "inactive")
            facilities = ", ".join(f.npi for f in conn.facilities.all()) or "no facility"
            self.stdout.write(f"{conn.name}\t{conn.kind}\t{conn.environment}\t{conn.base_url}\t"
                              f"{state}\t{facilities}\t{secrets or 'no secrets'}")
        if not rows:
            self.stdout.write("No connections.")

    def clear_hold(self, name: str) -> None:
        """As the admin's "Clear the hold" action: the held tickets become due again."""
        conn = Connection.objects.filter(name=name).first()
        if conn is None:
            raise CommandError(f"no connection named {name}")
        if not conn.is_flagged:
            self.stdout.write(f"{conn.name} is not on hold.")
            return
        conn.clear_flag()
        oauth.forget(conn.pk)
        record_event(None, "change", conn, detail="manage.py connection clear-hold")
        self.stdout.write(f"{conn.name} resumed.")

    def test(self, name: str) -> None:
        conn = Connection.objects.filter(name=name).first()
        if conn is None:
            raise CommandError(f"no connection named {name}")
        ok, message = api.health_check(conn)
        if not ok:
            raise CommandError(f"{conn.name}: {message}")
        self.stdout.write(f"{conn.name}: {message}")
