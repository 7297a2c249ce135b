"""Load code descriptions: the shipped lists, or a licensed official list as CSV.

    python manage.py import_codes --shipped
    python manage.py import_codes carc.csv --code-set carc --source "X12 2026-07"
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from revcycle.codes import CODE_SETS, CodeImportError, import_file, load_shipped


class Command(BaseCommand):
    help = "Load code descriptions from a CSV file (code,description[,effective,stop dates])."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="CSV file of an official code list.")
        parser.add_argument(
            "--code-set", choices=CODE_SETS,
            help="The code set of every row; without it the file needs a code_set column.",
        )
        parser.add_argument(
            "--source", default="", help='Where the list came from, e.g. "X12 2026-07".'
        )
        parser.add_argument(
            "--shipped", action="store_true", help="Load the descriptions shipped with revcycle."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["shipped"] == bool(options["file"]):
            raise CommandError("Give either a FILE to import or --shipped, not both or neither.")
        if options["shipped"]:
            load_shipped(stdout=self.stdout)
            return
        try:
            report = import_file(options["file"], options["code_set"], options["source"])
        except CodeImportError as exc:
            raise CommandError(str(exc)) from exc
        for line, reason in report.skipped:
            self.stderr.write(f"line {line}: {reason}")
        self.stdout.write(f"{options['file']}: {report.summary()}.")
