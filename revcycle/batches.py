"""Batches of lookups from a CSV, for every domain that queues tickets (claim status,
insurance discovery).

A domain describes its rows once, in a BatchSpec: the documented columns and their other
spellings, the form that validates one row (the same form as its single lookup), how a
row becomes the request body, and how tickets become export rows. This module then does
the rest the same way for every domain: parse, validate, collapse duplicates, create the
tickets in bulk, report progress. The views are in revcycle/batch_views.py and the
templates in templates/batches/.

Creating a batch costs a few queries whatever its size: rows are validated in memory,
encounters are matched by account number in one query per chunk, and tickets and row
errors are written with bulk_create in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from revcycle import csvio, stored_uploads, xlsxio
from revcycle.access import facilities_for
from revcycle.crypto import mask_ssn
from revcycle.models import Batch, BatchRowError, Connection, Encounter, Facility, Ticket
from revcycle.roles import has_perm

CHUNK = 1000
PROGRESS_EVERY = 500  # rows between two progress updates of a batch read by a worker
MAX_READ_ATTEMPTS = 3  # a worker killed this often on one file: the file is refused
STALE_READ = timedelta(hours=1)  # a batch no worker has read by then is refused
READ_TASK = "revcycle.tasks.read_batch"


@dataclass
class BatchSpec:
    """How one domain's CSV rows become tickets, and its tickets become export rows."""

    kind: str  # Ticket.kind and Batch.kind, e.g. "claim_status"
    cli_name: str  # run_batch's name for it, e.g. "claim-status"
    service: str  # the Connection.kind it talks to (a registered service)
    label: str  # "Claim status"
    columns: list[csvio.Column]
    form_class: type[forms.Form]
    build_request: Callable[[dict[str, Any], Facility], dict[str, Any]]
    summary: Callable[[dict[str, Any]], tuple[str, str, str]]  # account, patient, payer
    export_header: list[str]
    export_rows: Callable[[QuerySet[Ticket]], Iterator[list[Any]]]
    url_namespace: str  # "claims": batch views are named "<ns>:batch_list" and so on
    ticket_url_name: str  # one ticket's page, "claims:status_detail"
    result_cells_template: str  # renders a row's result cells for `t` (a Ticket)
    result_headers: list[str] = field(default_factory=list)
    numeric_headers: list[str] = field(default_factory=list)  # right-aligned among those
    # Values for blank cells, from the facility (e.g. billing provider NPI).
    row_defaults: Callable[[Facility], dict[str, str]] | None = None
    # Which field holds the account number, to link tickets to encounters.
    account_field: str = ""
    # What to prefetch when listing a batch's rows (e.g. the domain's result row).
    rows_select_related: Sequence[str] = ()
    template_filename: str = "template.csv"
    example_row: dict[str, str] = field(default_factory=dict)
    # Export columns whose kind the name does not tell (xlsxio.column_kind): "amount"...
    export_kinds: dict[str, str] = field(default_factory=dict)
    # The .xlsx sheets of an export when one table is not enough (claims and their lines).
    export_sheets: Callable[[QuerySet[Ticket]], list[xlsxio.Sheet]] | None = None

    def sheets(self, tickets: QuerySet[Ticket]) -> list[xlsxio.Sheet]:
        if self.export_sheets is not None:
            return self.export_sheets(tickets)
        return [xlsxio.Sheet(self.label, self.export_header, self.export_rows(tickets),
                             self.export_kinds)]

    def url_names(self) -> dict[str, str]:
        ns = self.url_namespace
        return {name: f"{ns}:batch_{name}"
                for name in ("list", "upload", "detail", "errors", "template", "export")} | {
            "ticket": self.ticket_url_name}

    def template_header(self) -> list[str]:
        return [c.name for c in self.columns]


SPECS: dict[str, BatchSpec] = {}


def register(spec: BatchSpec) -> BatchSpec:
    SPECS[spec.cli_name] = spec
    return spec


def get_spec(name: str) -> BatchSpec:
    """The spec by its CLI name ("claim-status") or its ticket kind ("claim_status")."""
    if name in SPECS:
        return SPECS[name]
    for spec in SPECS.values():
        if spec.kind == name:
            return spec
    raise KeyError(f"No batch kind {name!r}; known: {', '.join(sorted(SPECS)) or 'none'}.")


class BatchError(Exception):
    """The file as a whole cannot become a batch; the message says why."""


@dataclass
class _Row:
    line: int
    request: dict[str, Any]
    request_hash: str
    account: str
    patient: str
    payer: str


def form_errors_text(form: forms.Form, spec: BatchSpec) -> str:
    """Row errors under the column's documented name: "patientDob: Enter the date as ..."."""
    names = {c.field: c.name for c in spec.columns}
    parts = []
    for field_name, errors in form.errors.items():
        label = names.get(field_name, field_name) if field_name != "__all__" else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return "; ".join(parts)


class _RowValidator:
    """Validates rows with one form instance, rebound per row: building a Django form
    deep-copies its fields, which costs more than validating the row itself."""

    def __init__(self, spec: BatchSpec, defaults: dict[str, str]) -> None:
        self.spec = spec
        self.defaults = defaults
        self.form = spec.form_class(data={})

    def __call__(self, values: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
        """(cleaned data, "") for a good row, (None, reason) for a bad one."""
        if "__extra__" in values:
            return None, f"The row has {values['__extra__']}: check for an unquoted comma."
        data = {k: v for k, v in values.items() if not k.startswith("__")}
        for name, value in self.defaults.items():
            if not data.get(name):
                data[name] = value
        form = self.form
        form.data, form.is_bound, form._errors = data, True, None
        form._bound_fields_cache = {}
        if not form.is_valid():
            return None, form_errors_text(form, self.spec)
        return dict(form.cleaned_data), ""


def validate_row(spec: BatchSpec, values: dict[str, str],
                 defaults: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """Validate one row (see _RowValidator for many)."""
    return _RowValidator(spec, defaults)(values)


def read_file(spec: BatchSpec, upload: IO[bytes], sheet: str = "") -> csvio.ParsedCsv:
    """An uploaded CSV or .xlsx (by its content), as rows under the spec's columns."""
    try:
        if xlsxio.is_xlsx(upload):
            return xlsxio.read_xlsx(upload, spec.columns, sheet)
    except xlsxio.SheetError as exc:
        raise BatchError(str(exc)) from None
    return csvio.read_upload(upload, spec.columns)


@dataclass
class _Reading:
    """What reading a file found: the rows to queue, the invalid rows, and the counts."""

    total: int = 0
    duplicates: int = 0
    good: list[_Row] = field(default_factory=list)
    bad: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)


def _check_header(parsed: csvio.ParsedCsv) -> None:
    if not parsed.fields_by_index:
        raise BatchError("No column of the file has a name we know. Download the template "
                         "to see the column names.")
    if parsed.missing_required:
        raise BatchError("The file lacks required column(s): "
                         f"{', '.join(parsed.missing_required)}. Download the template.")


def _read_rows(spec: BatchSpec, parsed: csvio.ParsedCsv, facility: Facility,
               connection: Connection,
               on_progress: Callable[[int], object] | None = None) -> _Reading:
    """Validate every row and collapse duplicates, in memory; stops at the row cap. Both
    ways a file is read (in the request, by a worker) come through here."""
    _check_header(parsed)
    defaults = spec.row_defaults(facility) if spec.row_defaults else {}
    validate = _RowValidator(spec, defaults)
    reading = _Reading()
    seen: set[str] = set()
    limit = settings.MAX_BATCH_ROWS
    rows = iter(parsed.rows)
    while True:
        try:
            line, values = next(rows)
        except StopIteration:
            break
        except csvio.CsvError as exc:
            raise BatchError(str(exc)) from None
        reading.total += 1
        if reading.total > limit:
            raise BatchError(f"The file has more than {limit:,} rows, the most one batch may "
                             "hold. Split it into smaller files.")
        if on_progress is not None and reading.total % PROGRESS_EVERY == 0:
            on_progress(reading.total)
        cleaned, reason = validate(values)
        if cleaned is None:
            reading.bad.append((line, reason, {k: v for k, v in values.items()
                                               if not k.startswith("__")}))
            continue
        request = spec.build_request(cleaned, facility)
        digest = Ticket.hash_request(spec.kind, connection.pk, request)
        if digest in seen:
            reading.duplicates += 1
            continue
        seen.add(digest)
        account, patient, payer = spec.summary(cleaned)
        reading.good.append(_Row(line, request, digest, account, patient, payer))
    if reading.total == 0:
        raise BatchError("The file has a header but no rows.")
    return reading


def create_batch(spec: BatchSpec, *, facility: Facility, connection: Connection, user: Any,
                 filename: str, text: str | None = None, upload: IO[bytes] | None = None,
                 sheet: str = "") -> Batch:
    """Parse and validate a CSV (`text`) or an uploaded CSV or .xlsx file (`upload`, of
    which `sheet`), and queue one ticket per distinct valid row."""
    if upload is not None:
        parsed = read_file(spec, upload, sheet)
    else:
        parsed = csvio.read_csv(text or "", spec.columns)
    reading = _read_rows(spec, parsed, facility, connection)
    creator = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        batch = Batch.objects.create(
            kind=spec.kind, facility=facility, connection=connection, created_by=creator,
            filename=filename[:255], total_rows=reading.total, rows_read=reading.total,
            ticket_count=len(reading.good), duplicate_rows=reading.duplicates,
            invalid_rows=len(reading.bad),
        )
        _save_rows(spec, batch, reading)
    return batch


def start_reading(spec: BatchSpec, *, facility: Facility, connection: Connection, user: Any,
                  filename: str, upload: IO[bytes], sheet: str = "") -> Batch:
    """A large file: store it encrypted and leave its rows to a worker (read_stored). A
    CSV's header is checked now, so a wrong file is refused on the upload form."""
    if not xlsxio.is_xlsx(upload):
        _check_header(csvio.read_head(upload, spec.columns))
    creator = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        batch = Batch.objects.create(
            kind=spec.kind, facility=facility, connection=connection, created_by=creator,
            filename=filename[:255], sheet=sheet[:100], state=Batch.State.READING)
        stored_uploads.store(batch.pk, upload)
        # The batch id alone: django-q2 keeps a task's arguments in its tables.
        transaction.on_commit(lambda: async_task(READ_TASK, batch.pk,
                                                 task_name=f"read batch {batch.pk}"))
    return batch


def read_stored(batch_id: int) -> str:
    """The worker's half of start_reading: read the stored file, then store its rows, the
    counts and the end of the stored file in one transaction. A worker killed before that
    commit leaves nothing behind, so the task, delivered again, starts over."""
    claimed = Batch.objects.filter(pk=batch_id, state=Batch.State.READING).update(
        read_attempts=F("read_attempts") + 1, rows_read=0)
    batch = Batch.objects.select_related("facility", "connection").filter(pk=batch_id).first()
    if not claimed or batch is None:
        return "already read"  # a second delivery of the task (at-least-once)
    if batch.read_attempts > MAX_READ_ATTEMPTS:
        refuse(batch_id, f"Reading the file stopped {MAX_READ_ATTEMPTS} times before its end. "
                         "Split it into smaller files and upload each.")
        return "unreadable"
    spec = get_spec(batch.kind)

    def progress(rows: int) -> None:
        Batch.objects.filter(pk=batch_id, state=Batch.State.READING).update(rows_read=rows)

    try:
        parsed = read_file(spec, stored_uploads.open_stored(batch_id), batch.sheet)
        reading = _read_rows(spec, parsed, batch.facility, batch.connection, progress)
    except BatchError as exc:
        refuse(batch_id, str(exc))
        return "unreadable"
    with transaction.atomic():
        # Locked, and still READING: a second delivery running at once stores nothing.
        if not Batch.objects.select_for_update().filter(
                pk=batch_id, state=Batch.State.READING).exists():
            return "already read"
        Batch.objects.filter(pk=batch_id).update(
            state=Batch.State.READ, total_rows=reading.total, rows_read=reading.total,
            ticket_count=len(reading.good), duplicate_rows=reading.duplicates,
            invalid_rows=len(reading.bad))
        _save_rows(spec, batch, reading)
        stored_uploads.discard(batch_id)
    return "read"


def refuse(batch_id: int, reason: str) -> None:
    """The file will not be read: say why on the batch page, and forget the file."""
    with transaction.atomic():
        Batch.objects.filter(pk=batch_id, state=Batch.State.READING).update(
            state=Batch.State.UNREADABLE, read_error=reason)
        stored_uploads.discard(batch_id)


def refuse_stale(now: Any = None) -> int:
    """Batches no worker has read within STALE_READ: refused, their files deleted (the
    queue lost the task, or no worker runs). Returns how many."""
    cutoff = (now or timezone.now()) - STALE_READ
    stale = list(Batch.objects.filter(state=Batch.State.READING, created_at__lt=cutoff)
                 .values_list("pk", flat=True))
    for batch_id in stale:
        refuse(batch_id, "The file was not read within an hour of its upload. Upload it "
                         "again; if this happens again, tell your administrator.")
    return len(stale)


def _encounters_by_account(facility: Facility, accounts: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    accounts_list = sorted(a for a in accounts if a)
    for start in range(0, len(accounts_list), CHUNK):
        chunk = accounts_list[start:start + CHUNK]
        found.update(Encounter.objects.filter(facility=facility, account_number__in=chunk)
                     .values_list("account_number", "id"))
    return found


def _save_rows(spec: BatchSpec, batch: Batch, reading: _Reading) -> None:
    """The tickets and row errors of a batch, in bulk (inside the caller's transaction)."""
    encounters = _encounters_by_account(batch.facility, {r.account for r in reading.good})
    now = timezone.now()
    tickets = (
        Ticket(kind=spec.kind, facility=batch.facility, connection=batch.connection,
               batch=batch, encounter_id=encounters.get(r.account),
               created_by_id=batch.created_by_id, line_number=r.line,
               request=r.request, request_hash=r.request_hash,
               account_number=r.account[:50], patient_name=r.patient[:200],
               payer=r.payer[:200], next_poll_at=now, queued_at=now)
        for r in reading.good
    )
    _bulk(Ticket, tickets)
    _bulk(BatchRowError, (BatchRowError(batch=batch, line_number=line, message=message,
                                        raw=raw) for line, message, raw in reading.bad))


def _bulk(model: Any, objects: Iterable[Any]) -> None:
    chunk: list[Any] = []
    for obj in objects:
        chunk.append(obj)
        if len(chunk) >= CHUNK:
            model.objects.bulk_create(chunk)
            chunk = []
    if chunk:
        model.objects.bulk_create(chunk)


def create_single(spec: BatchSpec, *, facility: Facility, connection: Connection, user: Any,
                  cleaned: dict[str, Any], encounter: Encounter | None = None) -> Ticket:
    """Queue one lookup from a valid form (the single lookup page)."""
    request = spec.build_request(cleaned, facility)
    account, patient, payer = spec.summary(cleaned)
    if encounter is None and account:
        encounter = Encounter.objects.filter(facility=facility, account_number=account).first()
    creator = user if user is not None and user.is_authenticated else None
    return Ticket.objects.create(
        kind=spec.kind, facility=facility, connection=connection, encounter=encounter,
        created_by=creator, request=request, account_number=account[:50],
        patient_name=patient[:200], payer=payer[:200], next_poll_at=timezone.now(),
    )


def progress(batch: Batch) -> dict[str, Any]:
    """Done, processing and failed of total, with bar widths in percent (one query).

    Only the tickets not done are counted (the (batch, state) index over the other states:
    none once a batch has gone well); the total is the batch's stored ticket_count, fixed
    when its file was read, and done is the rest. Grouping every ticket of a batch of
    100,000 by state cost each render of the batch page a read of 100,000 index entries."""
    counts = Ticket.objects.filter(batch=batch, state__in=Ticket.NOT_DONE_STATES).counts()
    total = batch.ticket_count
    failed = counts[Ticket.State.FAILED] + counts[Ticket.State.EXPIRED]
    processing = counts[Ticket.State.SUBMITTED] + counts[Ticket.State.PROCESSING]
    queued = counts[Ticket.State.QUEUED]
    done = max(total - counts["total"], 0)

    def pct(n: int) -> float:
        return round(100 * n / total, 2) if total else 0.0

    return {
        "total": total, "done": done, "failed": failed, "processing": processing,
        "queued": queued, "open": processing + queued, "finished": done + failed,
        "done_pct": pct(done), "failed_pct": pct(failed), "processing_pct": pct(processing),
        "finished_pct": pct(done + failed), "is_open": processing + queued > 0,
        "open_states": tuple(counts[state] for state in Ticket.OPEN_STATES),
    }


def open_progress(batch: Batch) -> tuple[int, ...]:
    """The batch's still-open tickets in each open state, as progress()["open_states"]: a
    read of the (batch, state) index over the open tickets only, where progress() groups
    every ticket of the batch."""
    counts = Ticket.objects.filter(batch=batch, state__in=Ticket.OPEN_STATES).counts()
    return tuple(counts[state] for state in Ticket.OPEN_STATES)


def visible_batches(user: Any, spec: BatchSpec) -> QuerySet[Batch]:
    """Managers see every batch of their facilities; billers see their own."""
    batches = Batch.objects.filter(kind=spec.kind, facility__in=facilities_for(user))
    if not has_perm(user, "manage_batches"):
        batches = batches.filter(created_by=user)
    return batches


def error_rows(spec: BatchSpec, batch: Batch, *, full_ssn: bool = False) -> Iterator[list[Any]]:
    """The invalid rows as they came, under the documented names, with the reason; SSN
    columns masked unless `full_ssn` (the reader may see them in full)."""

    def cell(column: csvio.Column, raw: dict[str, Any]) -> Any:
        value = raw.get(column.field, "")
        return mask_ssn(value) if column.ssn and not full_ssn else value

    for error in batch.row_errors.all().iterator(chunk_size=2000):
        raw = error.raw or {}
        yield [error.line_number, error.message, *(cell(c, raw) for c in spec.columns)]


def error_header(spec: BatchSpec) -> list[str]:
    return ["line", "reason", *spec.template_header()]
