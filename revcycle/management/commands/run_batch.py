"""Run a batch from a CSV or .xlsx to the end without a separate worker, and write the results.

    python manage.py run_batch claim-status claims.csv --out results.csv [--connection NAME]
                                                       [--facility ID] [--timeout SECONDS]

The batch is created with the same code as an upload (revcycle/batches.py) and the engine
pumps it in this process, so the per-connection rate limit and concurrency cap hold as
they do for a worker. Progress goes to stderr every 2 s. The exit status is non-zero if a
row was invalid or a lookup failed, and the run stops at once (results so far written) when
the connection is put on hold, by the engine after the service refused our credentials
(401 on the token, 402 on a request) or by an admin: its tickets would wait for the hold to
be cleared, and a cron job must not wait hours printing "0 done"."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from revcycle import csvio, engine, xlsxio
from revcycle.batches import SPECS, BatchError, create_batch, error_header, error_rows, get_spec
from revcycle.batches import progress as batch_progress
from revcycle.models import Connection, Facility, Ticket


def hold_reason(connection_id: int) -> str:
    """Why the engine will send nothing more on this connection, or "" while it may."""
    conn = Connection.objects.filter(pk=connection_id).first()
    if conn is None or not conn.active:
        return "Stopped: the connection was deactivated while the batch ran."
    if conn.flagged_at is None:
        return ""
    reason = conn.flagged_reason or "put on hold by an admin"
    if "refused our credentials" in reason:
        advice = (f"{conn.get_kind_display()} refused our credentials: check the client id "
                  "and secret (and the IP allow-list), then clear the hold")
    else:
        advice = "clear the hold once the cause is fixed"
    return (f"Stopped: connection {conn.name} is on hold ({reason}). {advice[0].upper()}"
            f"{advice[1:]} (admin, or `manage.py connection clear-hold {conn.name}`). The "
            "unfinished lookups stay queued for a worker.")


class Command(BaseCommand):
    help = "Run a batch of lookups from a CSV file to the end and write the results as CSV."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", help="The batch kind, e.g. claim-status.")
        parser.add_argument("file", help="The CSV or .xlsx file (the template's columns).")
        parser.add_argument("--out", required=True,
                            help="Where to write the results (.csv, or .xlsx for a workbook).")
        parser.add_argument("--connection", help="Connection name (default: the only one).")
        parser.add_argument("--facility", type=int, help="Facility id (default: the "
                                                         "connection's only facility).")
        parser.add_argument("--timeout", type=float, default=6 * 3600,
                            help="Give up waiting after this many seconds.")
        parser.add_argument("--errors-out", help="Also write the invalid rows here.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = get_spec(options["kind"])
        except KeyError as exc:
            raise CommandError(f"Unknown kind; known: {', '.join(sorted(SPECS))}.") from exc
        connection = self._connection(spec.service, options.get("connection"))
        facility = self._facility(connection, options.get("facility"))
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        try:
            with path.open("rb") as upload:  # a CSV or an .xlsx, told apart by content
                batch = create_batch(spec, facility=facility, connection=connection,
                                     user=None, filename=path.name, upload=upload)
        except BatchError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Batch {batch.pk}: {batch.total_rows} rows, {batch.ticket_count} "
                          f"lookups, {batch.invalid_rows} invalid, {batch.duplicate_rows} "
                          "duplicates.")
        with csvio.reading_transaction():  # a server-side cursor, as an export's
            for line, reason, *_ in error_rows(spec, batch):
                self.stderr.write(f"  line {line}: {reason}")
        stopped = self._pump(batch, connection, options["timeout"])
        tickets = Ticket.objects.filter(batch=batch).order_by("id")
        if str(options["out"]).endswith(".xlsx"):
            rows = xlsxio.write_xlsx(options["out"], spec.sheets(tickets))
        else:
            rows = csvio.write_csv(options["out"], spec.export_header, spec.export_rows(tickets))
        if options.get("errors_out"):
            csvio.write_csv(options["errors_out"], error_header(spec), error_rows(spec, batch))
        final = batch_progress(batch)
        self.stderr.write(f"Wrote {rows} rows to {options['out']}. {final['done']} done, "
                          f"{final['failed']} failed, {final['open']} unfinished, "
                          f"{batch.invalid_rows} invalid.")
        if stopped:
            raise CommandError(stopped)
        if final["failed"] or final["open"] or batch.invalid_rows:
            raise SystemExit(1)

    def _pump(self, batch: Any, connection: Connection, timeout: float) -> str:
        """Run the batch to its end; returns why it stopped early, or ""."""
        last = 0.0
        stopped = ""

        def finished() -> bool:
            nonlocal last, stopped
            if time.monotonic() - last >= 2:
                last = time.monotonic()
                stopped = hold_reason(connection.pk)
                p = batch_progress(batch)
                self.stderr.write(f"{p['done']} done, {p['processing']} processing, "
                                  f"{p['failed']} failed, of {p['total']}")
                return bool(stopped) or not p["is_open"]
            return not Ticket.objects.filter(batch=batch).open().exists()

        engine.pump(timeout, stop=finished, batch_id=batch.pk)
        return stopped

    def _connection(self, service: str, name: str | None) -> Connection:
        connections = Connection.objects.filter(kind=service, active=True)
        if name:
            connections = connections.filter(name=name)
        found = list(connections[:2])
        if len(found) != 1:
            raise CommandError(
                f"Name the {service} connection with --connection (found {len(found)}"
                f"{'+' if len(found) == 2 else ''})." if not name else
                f"No active {service} connection named {name!r}.")
        return found[0]

    def _facility(self, connection: Connection, facility_id: int | None) -> Facility:
        facilities = connection.facilities.all()
        if facility_id:
            facilities = facilities.filter(pk=facility_id)
        found = list(facilities[:2])
        if len(found) != 1:
            raise CommandError(f"Name one facility that {connection.name} serves with "
                               "--facility ID.")
        return found[0]
