"""Claim status pages: the worklist, the single lookup, one claim's answer, "check again"
and the export. The batch pages are the shared ones (revcycle/batch_views.py)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from claims import descriptions
from claims.export import SPEC, export_rows, result_of
from claims.filters import NULLABLE_SORT_KEYS, SORTS, ClaimStatusFilter
from claims.flow import KIND
from claims.forms import ClaimStatusForm, facility_defaults, initial_from_encounter
from claims.outcomes import OUTCOME_CHOICES
from revcycle import engine, exports, polling
from revcycle.access import connections_for, default_facility, get_for_user
from revcycle.audit import record_event
from revcycle.batches import create_single, visible_batches
from revcycle.inputs import parse_ids
from revcycle.models import Encounter, Ticket
from revcycle.paging import rows_fingerprint
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import has_perm, permission_required

PER_PAGE = 50


def filter_tickets(request: HttpRequest) -> ClaimStatusFilter:
    """The worklist's filters over the user's claim status tickets (page and export)."""
    tickets = Ticket.objects.for_user(request.user).of_kind(KIND).order_by(*SORTS["newest"])
    return ClaimStatusFilter(request.GET, tickets, request=request)


def _filters_for_audit(f: dict[str, str]) -> str:
    """Filters without patient data: the search text itself is left out."""
    shown = {k: v for k, v in f.items() if v and k != "q"}
    if f.get("q"):
        shown["q"] = "(search)"
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "none"


@permission_required("view_results")
def status_home(request: HtmxHttpRequest) -> HttpResponse:
    filters = filter_tickets(request)
    tickets, f = filters.qs, filters.shown
    order = SORTS[filters.cleaned("sort", "newest")]
    if polling.unchanged(request, lambda: filters.poll_fingerprint(
            tickets, order, PER_PAGE, nullable=NULLABLE_SORT_KEYS)):
        return polling.nothing_new()
    # The encrypted request and raw answer are not shown on the list: leave them undecrypted.
    rows = tickets.select_related("claim_result", "batch").defer("request", "response")
    page = filters.keyset_page(rows, order, PER_PAGE, nullable=NULLABLE_SORT_KEYS)
    seen = rows_fingerprint(page, page.has_next)
    template = "claims/status_home.html"
    if request.htmx:
        template += "#rows"
    open_tickets = [t for t in page if t.is_open]
    response = render(request, template, {
        "page": page, "f": f, "filter_notes": filters.notes,
        "outcomes": OUTCOME_CHOICES, "sorts": list(SORTS),
        "has_open": bool(open_tickets),
        "poll_every": polling.poll_interval(*(t.next_poll_at for t in open_tickets)),
        "seen": seen,
        "batches": visible_batches(request.user, SPEC).only("id", "filename")[:50],
        "urls": SPEC.url_names(),
    })
    return polling.answer(request, response, final=not open_tickets, seen=seen)


@permission_required("run_lookups")
@require_http_methods(["GET", "POST"])
def status_new(request: HttpRequest) -> HttpResponse:
    encounter = None
    if account := request.GET.get("account", "").strip():
        encounter = Encounter.objects.for_user(request.user).filter(
            account_number=account).select_related("facility").first()
        if encounter is None:
            messages.warning(request, f"No account {account} at your facilities.")
    facility = encounter.facility if encounter else default_facility(request.user)
    connection = (connections_for(request.user, "integrex").filter(facilities=facility).first()
                  if facility else None)
    initial = facility_defaults(facility) if facility else {}
    if encounter:
        initial |= {k: v for k, v in initial_from_encounter(encounter).items() if v}
    form = ClaimStatusForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if facility is None or connection is None:
            messages.error(request, "No Integrex connection serves your facility: ask an admin.")
        else:
            ticket = create_single(SPEC, facility=facility, connection=connection,
                                   user=request.user, cleaned=form.cleaned_data,
                                   encounter=encounter)
            record_event(request, "submit", ticket, detail=f"claim status ticket {ticket.pk}")
            engine.kick()
            return redirect("claims:status_detail", pk=ticket.pk)
    return render(request, "claims/status_new.html", {
        "form": form, "encounter": encounter, "facility": facility, "connection": connection,
        "account": account})


def reasons_of(lines: list[Any]) -> list[dict[str, str]]:
    """Denial reasons across the lines, once each: payer remark, RARC, CARC."""
    sources = {1: ("Payer remark", ""), 2: ("RARC", "rarc"), 3: ("CARC", "carc")}
    seen: set[tuple[int, str]] = set()
    reasons = []
    for line in lines:
        for n, (source, code_set) in sources.items():
            code = getattr(line, f"reason_code{n}")
            if not code or (n, code) in seen:
                continue
            seen.add((n, code))
            reasons.append({
                "source": source, "code": code,
                "payer_text": getattr(line, f"reason_text{n}"),
                "ours": descriptions.describe(code_set, code) if code_set else "",
                "lines": ", ".join(str(x.svc_line) for x in lines
                                   if getattr(x, f"reason_code{n}") == code and x.svc_line),
            })
    return reasons


@permission_required("view_results")
def status_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    ticket = get_for_user(
        Ticket.objects.of_kind(KIND).select_related("connection", "facility", "batch",
                                                     "encounter", "claim_result"),
        request.user, pk=pk)
    result = result_of(ticket)
    lines = list(result.lines.all()) if result else []
    template = "claims/status_detail.html"
    if request.htmx:
        template += "#result"
    else:
        record_event(request, "view", ticket)
    show_raw = has_perm(request.user, "manage_connections")
    response = render(request, template, {
        "t": ticket, "result": result, "lines": lines, "reasons": reasons_of(lines),
        "status": descriptions.status_labels(result) if result else {},
        "advice": descriptions.advice(ticket.outcome),
        "request_rows": list((ticket.request or {}).items()),
        "show_raw": show_raw,
        "raw": json.dumps(ticket.response, indent=2) if show_raw and ticket.response else "",
        "poll_every": polling.poll_interval(ticket.next_poll_at),
    })
    return polling.answer(request, response, final=not ticket.is_open)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("claims:status_home")
    return HttpResponseRedirect(target)


@permission_required("run_lookups")
@require_POST
def check_again(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_for_user(Ticket.objects.of_kind(KIND), request.user, pk=pk)
    if engine.check_again(ticket):
        record_event(request, "submit", ticket, detail="check again")
        engine.kick()
        messages.success(request, "Checking again.")
    else:
        messages.warning(request, "That lookup is still running.")
    return _back(request)


@permission_required("run_lookups")
@require_POST
def check_again_selected(request: HttpRequest) -> HttpResponse:
    ids = parse_ids(request.POST.getlist("ids"))
    tickets = Ticket.objects.for_user(request.user).of_kind(KIND).filter(
        pk__in=ids, state__in=Ticket.FINAL_STATES)
    count = 0
    for ticket in tickets:
        count += engine.check_again(ticket)
    if count:
        record_event(request, "submit", None, object_type="revcycle.ticket",
                     detail=f"check again: {count} claim status tickets")
        engine.kick()
    messages.success(request, f"Checking {count} claim{'s' if count != 1 else ''} again."
                     if count else "Nothing to check again: select finished rows.")
    return _back(request)


@permission_required("export_results")
def status_export(request: HttpRequest) -> HttpResponse:
    filters = filter_tickets(request)
    tickets, f = filters.qs, filters.shown
    count = tickets.count()
    record_event(request, "export", None, object_type="revcycle.ticket",
                 detail=f"claim status export: {count} tickets; filters: {_filters_for_audit(f)}")
    return exports.workbook(request, f"claim-status-{date.today():%Y%m%d}",
                            SPEC.sheets(tickets), SPEC.export_header, export_rows(tickets))
