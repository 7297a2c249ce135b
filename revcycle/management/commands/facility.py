"""Facilities for scripted deployments: `facility add|list`.

`add` creates the facility with the NPI given, or updates the one facility that has it,
so a configuration script can run again. The NPI's check digit is verified as in the
admin. Options left out keep their stored value."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from revcycle.audit import record_event
from revcycle.models import Facility

# option dest -> model field, for the settings `add` may change. A service's own settings
# of a facility (Smart's provider key, say) are set by that service's command.
PLAIN_OPTIONS = {
    "tax_id": "tax_id",
    "address": "address",
    "time_zone": "time_zone",
}


def find_facilities(keys: list[str]) -> list[Facility]:
    """Facilities by NPI, or by id for a key that matches no NPI."""
    found: list[Facility] = []
    for key in keys:
        matches = list(Facility.objects.filter(npi=key))
        if not matches and key.isdigit():
            matches = list(Facility.objects.filter(pk=int(key)))
        if not matches:
            raise CommandError(f"no facility with NPI or id {key}")
        found.extend(matches)
    return found


def _users(usernames: list[str]) -> list[Any]:
    users = list(get_user_model().objects.filter(username__in=usernames))
    missing = sorted(set(usernames) - {u.username for u in users})
    if missing:
        raise CommandError(f"no user named {', '.join(missing)} (create them with "
                           "`manage.py user add`)")
    return users


class Command(BaseCommand):
    help = "Add or update, and list, facilities (billing providers)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        add = actions.add_parser("add", help="Create the facility with this NPI, or update it.")
        add.add_argument("name")
        add.add_argument("--npi", required=True, help="10 digits with a valid check digit.")
        add.add_argument("--tax-id")
        add.add_argument("--address")
        add.add_argument("--time-zone", help="IANA name (America/Chicago): the facility's "
                         "clock for off-hours re-checks. Default: the server's TIME_ZONE.")
        add.add_argument("--members", nargs="+", action="extend", metavar="USERNAME",
                         help="Staff who work for this facility (replaces the current list).")

        actions.add_parser("list", help="List facilities with their members.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "add":
            self.add(options)
        else:
            self.list()

    def add(self, options: dict[str, Any]) -> None:
        members = _users(options["members"]) if options["members"] else None
        with transaction.atomic():
            matches = list(Facility.objects.select_for_update().filter(npi=options["npi"]))
            if len(matches) > 1:
                raise CommandError(f"{len(matches)} facilities have NPI {options['npi']}: "
                                   "fix them in the admin first")
            creating = not matches
            facility = Facility(npi=options["npi"]) if creating else matches[0]
            changed = []
            if creating or facility.name != options["name"]:
                facility.name = options["name"]
                changed.append("name")
            for option, field in PLAIN_OPTIONS.items():
                value = options[option]
                if value is not None and (creating or getattr(facility, field) != value):
                    setattr(facility, field, value)
                    changed.append(field)
            try:
                facility.full_clean()
            except ValidationError as exc:
                raise CommandError("; ".join(
                    f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
                )) from exc
            facility.save()
            if members is not None:
                facility.members.set(members)
                changed.append("members")
            record_event(None, "create" if creating else "change", facility,
                         detail=f"manage.py facility add; fields: {', '.join(changed) or 'none'}")
        verb = "Created" if creating else "Updated"
        self.stdout.write(f"{verb} facility {facility.pk}: {facility}.")

    def list(self) -> None:
        rows = Facility.objects.prefetch_related("members")
        for f in rows:
            members = ", ".join(sorted(u.username for u in f.members.all())) or "no members"
            self.stdout.write(f"{f.pk}\t{f.name}\t{f.npi}\t{f.tax_id or '-'}\t{members}")
        if not rows:
            self.stdout.write("No facilities.")
