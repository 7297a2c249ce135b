"""Staff accounts for scripted deployments: `user add USERNAME --role ROLE`.

The password comes from standard input only (one line), or is asked for twice when
standard input is a terminal: never from argv, which shows in `ps` and shell history. It
must pass the password validators, as in the admin. Running `add` again for an existing
user sets the role, facilities and password anew, so a script can run twice."""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from revcycle.audit import record_event
from revcycle.management.commands.facility import find_facilities
from revcycle.roles import ADMIN, ROLES


class Command(BaseCommand):
    help = "Add or update a staff account: role, facilities, password from standard input."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        add = actions.add_parser("add", help="Create or update a user.")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=ROLES)
        add.add_argument("--facility", nargs="+", action="extend", default=[],
                         metavar="NPI_OR_ID",
                         help="Facilities the user works for (replaces the current list; "
                              "admins see every facility without one).")
        add.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdin: TextIO = options.get("stdin") or sys.stdin
        self.add(options)

    def read_password(self) -> str:
        if self.stdin.isatty():
            first = getpass.getpass("Password: ")
            if first != getpass.getpass("Password (again): "):
                raise CommandError("the passwords differ")
            return first
        lines = [line.rstrip("\r\n") for line in self.stdin]
        lines = [line for line in lines if line]
        if len(lines) != 1:
            raise CommandError("give the password on standard input, alone on one line "
                               f"(got {len(lines)} lines)")
        return lines[0]

    def add(self, options: dict[str, Any]) -> None:
        facilities = find_facilities(options["facility"])
        password = self.read_password()
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=options["username"]).first()
            creating = user is None
            if user is None:
                user = User(username=options["username"])
            if options["email"]:
                user.email = options["email"]
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("password refused: " + " ".join(exc.messages)) from exc
            user.set_password(password)
            # Admins use the Django admin (connections, users); the others never do.
            user.is_staff = options["role"] == ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=options["role"])])
            user.facilities.set(facilities)
            record_event(None, "create" if creating else "change", user,
                         detail=f"manage.py user add; role {options['role']}; facilities: "
                                f"{', '.join(str(f.pk) for f in facilities) or 'none'}")
        verb = "Created" if creating else "Updated"
        where = ", ".join(f.name for f in facilities) or "no facility"
        self.stdout.write(f"{verb} {user.username} ({options['role']}; {where}).")
