"""A facility's Smart arrangements for scripted deployments: `smart_facility NPI [...]`.

Options left out keep their stored value, so a configuration script can run again."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from revcycle.audit import record_event
from revcycle.management.commands.facility import find_facilities
from smartlink.models import SmartFacility

OPTIONS = ("provider_key", "manages_copay", "late_diagnosis")


class Command(BaseCommand):
    help = "Set or show a facility's Smart (SmartLink) arrangements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("facility", help="The facility's NPI (or id).")
        parser.add_argument("--provider-key", help="Smart's provider key (e.g. SKSP_6122).")
        parser.add_argument("--manages-copay", action=argparse.BooleanOptionalAction,
                            help="Smart manages this facility's co-pays.")
        parser.add_argument("--late-diagnosis", action=argparse.BooleanOptionalAction,
                            help="Diagnoses may be sent after the patient left (arranged "
                                 "with Smart).")

    def handle(self, *args: Any, **options: Any) -> None:
        facilities = find_facilities([options["facility"]])
        if len(facilities) != 1:
            raise CommandError(f"{len(facilities)} facilities match {options['facility']}")
        settings = SmartFacility.for_facility(facilities[0])
        changed = [name for name in OPTIONS
                   if options[name] is not None and getattr(settings, name) != options[name]]
        for name in changed:
            setattr(settings, name, options[name])
        if changed or settings._state.adding:
            settings.save()
            record_event(None, "change", facilities[0],
                         detail=f"manage.py smart_facility; fields: {', '.join(changed) or 'none'}")
        self.stdout.write(
            f"{facilities[0]}: Smart provider key {settings.provider_key or '-'}, co-pay by "
            f"Smart {'yes' if settings.manages_copay else 'no'}, late diagnosis "
            f"{'yes' if settings.late_diagnosis else 'no'}.")
