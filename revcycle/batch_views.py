"""The batch pages every domain shares: upload, list, detail with live progress, the
invalid rows and the template as CSV, and the export.

Each domain wires them in its urls.py with the spec's CLI name:
`path("batches/", batch_views.batch_list, {"spec": "claim-status"}, name="batch_list")`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from revcycle import engine, exports, polling, uploads
from revcycle.access import connections_for, facilities_for
from revcycle.audit import record_event
from revcycle.batches import (
    BatchError,
    BatchSpec,
    create_batch,
    error_header,
    error_rows,
    get_spec,
    open_progress,
    progress,
    start_reading,
    visible_batches,
)
from revcycle.filtering import ListFilterSet
from revcycle.models import Batch, Connection, Facility, Ticket
from revcycle.paging import rows_fingerprint
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import can_see_full_ssn, permission_required

ROWS_PER_PAGE = 100
ROWS_ORDER = ("id",)  # the file's order


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV or Excel (.xlsx) file with the template's column names in its "
                  "first row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}))
    sheet = forms.CharField(
        required=False, max_length=100, label="Sheet",
        help_text="For an Excel file: the sheet's name or number. Blank: the first sheet.")
    facility = forms.ModelChoiceField(queryset=Facility.objects.none(), empty_label=None)
    connection = forms.ModelChoiceField(queryset=Connection.objects.none(), empty_label=None)

    def __init__(self, *args: Any, user: Any, service: str, refused: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facilities_for(user)
        self.fields["connection"].queryset = connections_for(user, service)
        if refused:  # the upload handler skipped the file for its size
            self.fields["file"].error_messages["required"] = uploads.too_big_message()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.UPLOAD_MAX_BYTES:  # in case the handler is not configured
            raise forms.ValidationError(uploads.too_big_message())
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        facility, connection = cleaned.get("facility"), cleaned.get("connection")
        if facility and connection and not connection.facilities.filter(pk=facility.pk).exists():
            raise forms.ValidationError(f"{connection.name} does not serve {facility.name}.")
        return cleaned


def _context(spec: BatchSpec, **extra: Any) -> dict[str, Any]:
    return {"spec": spec, "urls": spec.url_names(), **extra}


def _batch_for(request: HttpRequest, spec: BatchSpec, pk: int) -> Batch:
    from django.http import Http404

    batch = visible_batches(request.user, spec).filter(pk=pk).select_related(
        "facility", "connection", "created_by").first()
    if batch is None:
        raise Http404("No such batch, or it is not yours to see.")
    return batch


@permission_required("run_lookups")
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, spec: str) -> HttpResponse:
    the_spec = get_spec(spec)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user,
                      service=the_spec.service, refused=uploads.refused(request))
    if request.method == "POST" and form.is_valid():
        try:
            batch = _submit(request, the_spec, form.cleaned_data)
        except BatchError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect(the_spec.url_names()["detail"], pk=batch.pk)
    return render(request, "batches/upload.html", _context(
        the_spec, form=form, max_rows=settings.MAX_BATCH_ROWS,
        max_mb=settings.UPLOAD_MAX_BYTES / (1024 * 1024),
        background_mb=settings.UPLOAD_BACKGROUND_BYTES / (1024 * 1024)))


def _submit(request: HttpRequest, spec: BatchSpec, data: dict[str, Any]) -> Batch:
    """Read a small file now; leave a large one to a worker (the page shows its progress)."""
    upload_file = data["file"]
    where = {"facility": data["facility"], "connection": data["connection"],
             "user": request.user, "filename": upload_file.name, "upload": upload_file,
             "sheet": data["sheet"]}
    if upload_file.size > settings.UPLOAD_BACKGROUND_BYTES:
        batch = start_reading(spec, **where)
        record_event(request, "submit", batch,
                     detail=f"batch file of {upload_file.size} bytes, read by a worker")
        messages.success(request, "The file is being read. Its rows appear here when "
                                  "it has been read; you may leave this page.")
        return batch
    batch = create_batch(spec, **where)
    record_event(request, "submit", batch,
                 detail=f"batch of {batch.total_rows} rows: {batch.ticket_count} "
                        f"tickets, {batch.invalid_rows} invalid, "
                        f"{batch.duplicate_rows} duplicates")
    if batch.ticket_count:
        engine.kick()
    messages.success(request, f"{batch.ticket_count} lookups queued from "
                              f"{batch.total_rows} rows.")
    return batch


@permission_required("view_results")
def batch_list(request: HttpRequest, spec: str) -> HttpResponse:
    the_spec = get_spec(spec)
    batches = visible_batches(request.user, the_spec).select_related("facility", "created_by")
    page = Paginator(batches, 50).get_page(request.GET.get("page"))
    return render(request, "batches/list.html", _context(the_spec, page=page))


@permission_required("view_results")
def detail(request: HtmxHttpRequest, spec: str, pk: int) -> HttpResponse:
    the_spec = get_spec(spec)
    batch = _batch_for(request, the_spec, pk)
    if batch.state != Batch.State.READ:
        return _reading(request, the_spec, batch)
    if polling.is_poll(request) and "batch-reading" in request.headers.get("HX-Target", ""):
        return polling.reload_page()  # read: the page now has rows, counts, errors
    paging = BatchRowsFilter(request.GET)
    if polling.unchanged(request, lambda: _fingerprint(
            paging.poll_fingerprint(batch.tickets.all(), ROWS_ORDER, ROWS_PER_PAGE),
            open_progress(batch))):
        return polling.nothing_new()
    now = progress(batch)
    page = paging.keyset_page(batch.tickets.select_related(*the_spec.rows_select_related),
                              ROWS_ORDER, ROWS_PER_PAGE, count=False)
    page.count = now["total"]  # the batch's stored ticket_count: no count of its rows
    template = "batches/detail.html"
    if request.htmx:
        template += "#live"
    else:
        record_event(request, "view", batch)
    # A batch's tickets move every moment while it runs: poll FAST (no one due time).
    seen = _fingerprint(rows_fingerprint(page, page.has_next), now["open_states"])
    response = render(request, template, _context(the_spec, batch=batch, page=page,
                                                  progress=now, poll_every=polling.FAST,
                                                  seen=seen, filter_notes=paging.notes,
                                                  errors=batch.row_errors.all()[:20]))
    return polling.answer(request, response, final=not now["is_open"], seen=seen)


class BatchRowsFilter(ListFilterSet):
    """The batch page's paging parameters (it has no filters): a keyset cursor on the id."""

    class Meta(ListFilterSet.Meta):
        model = Ticket
        fields: list[str] = []


def _fingerprint(rows: str, open_states: tuple[int, ...]) -> str:
    """What a poll of the batch page compares, for the page it drew and for the poll alike:
    the page's rows (ids, states, update times) and how many tickets are still open in each
    open state. Every step of a ticket changes the open counts; the done and failed counts
    change only through them, so a poll reads two indexes and counts nothing else."""
    return rows_fingerprint([], False, rows, open_states)


def _reading(request: HtmxHttpRequest, spec: BatchSpec, batch: Batch) -> HttpResponse:
    """A batch whose file a worker is reading (rows read so far), or could not read (why)."""
    template = "batches/reading.html"
    if request.htmx:
        template += "#reading"
    else:
        record_event(request, "view", batch)
    response = render(request, template, _context(spec, batch=batch, poll_every=polling.FAST))
    return polling.answer(request, response, final=batch.state == Batch.State.UNREADABLE)


@permission_required("view_results")
def row_errors_csv(request: HttpRequest, spec: str, pk: int) -> HttpResponse:
    the_spec = get_spec(spec)
    batch = _batch_for(request, the_spec, pk)
    record_event(request, "export", batch, detail=f"{batch.invalid_rows} invalid rows")
    full_ssn = can_see_full_ssn(request.user)
    return exports.table(request, f"batch-{batch.pk}-invalid-rows", error_header(the_spec),
                         error_rows(the_spec, batch, full_ssn=full_ssn), title="Invalid rows")


@permission_required("run_lookups")
def template_csv(request: HttpRequest, spec: str) -> HttpResponse:
    the_spec = get_spec(spec)
    example = [the_spec.example_row.get(c.name, "") for c in the_spec.columns]
    stem = the_spec.template_filename.removesuffix(".csv")
    # Every template column is text: an identifier keeps its zeros, a date its spelling.
    return exports.table(request, stem, the_spec.template_header(),
                         [example] if the_spec.example_row else [], title=the_spec.label,
                         kinds=dict.fromkeys(the_spec.template_header(), "text"))


@permission_required("export_results")
def export(request: HttpRequest, spec: str, pk: int) -> HttpResponse:
    the_spec = get_spec(spec)
    batch = _batch_for(request, the_spec, pk)
    tickets = batch.tickets.order_by("id")
    record_event(request, "export", batch,
                 detail=f"batch {batch.pk}: {batch.ticket_count} tickets")
    return exports.workbook(request, f"{the_spec.cli_name}-batch-{batch.pk}",
                            the_spec.sheets(tickets), the_spec.export_header,
                            the_spec.export_rows(tickets))
