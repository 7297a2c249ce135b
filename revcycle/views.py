from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from revcycle import exports, health
from revcycle.access import facilities_for, get_for_user
from revcycle.audit import record_event
from revcycle.filters import AuditFilter
from revcycle.models import AuditEvent, Encounter, Ticket
from revcycle.roles import has_perm, permission_required


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and monitors: 200 when the database answers and a worker's engine
    heartbeat is recent, 503 otherwise (revcycle/health.py)."""
    state = health.check()
    return JsonResponse(state.as_dict(), status=200 if state.ok else 503)


def home(request: HttpRequest) -> HttpResponse:
    """Everyone signed in lands here; only a role that may see results sees patients."""
    if not has_perm(request.user, "view_results"):
        return render(request, "revcycle/home.html", {"can_view": False})
    # The person's own work: what they sent, newest first, each row linking to its result.
    tickets = Ticket.objects.for_user(request.user).filter(created_by=request.user)
    recent = list(tickets.defer("request", "response").order_by("-created_at")[:10])
    if recent:
        record_event(request, "view", object_type="revcycle.ticket",
                     detail=f"page home ({len(recent)} recent lookups)")
    return render(request, "revcycle/home.html", {
        "can_view": True, "open_count": tickets.open().count(), "recent": recent,
    })


@permission_required("view_results")
def encounters(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    rows = Encounter.objects.for_user(request.user).select_related("facility")
    if query:
        rows = rows.filter(Q(account_number__icontains=query) |
                           Q(patient_last_name__icontains=query) |
                           Q(patient_first_name__icontains=query) |
                           Q(subscriber_id__iexact=query))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "revcycle/encounters.html", {"page": page, "q": query})


@permission_required("view_results")
def encounter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = get_for_user(Encounter.objects.all(), request.user, pk=pk)
    record_event(request, "view", encounter)
    tickets = encounter.tickets.select_related("connection").order_by("-created_at")[:100]
    return render(request, "revcycle/encounter_detail.html",
                  {"encounter": encounter, "tickets": tickets})


def _audit_filter(request: HttpRequest) -> AuditFilter:
    """The audit log's filters over its events (page and export)."""
    events = visible_events(request.user).select_related("facility")
    return AuditFilter(request.GET, events, request=request)


@permission_required("view_audit_log")
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = _audit_filter(request)
    page = Paginator(filters.qs, 100).get_page(filters.page_number)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "revcycle/audit_log.html", {
        "page": page, "actions": AuditEvent.Action.choices, "filters": filters.shown,
        "filter_notes": filters.notes, "query": query.urlencode()})


AUDIT_EXPORT_HEADER = ["at", "username", "action", "object_type", "object_id", "facility",
                       "detail", "ip_address"]


@permission_required("view_audit_log")
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The audit log as CSV, with the page's filters; the export is itself audited."""
    filters = _audit_filter(request)
    events = filters.qs
    shown = ", ".join(f"{k}={v}" for k, v in sorted(filters.shown.items()) if v) or "none"
    record_event(request, "export", object_type="revcycle.auditevent",
                 detail=f"audit log export, {events.count()} events; filters: {shown}"[:500])
    rows = ([e.at.isoformat(timespec="seconds"), e.username, e.action, e.object_type,
             e.object_id, e.facility.name if e.facility else "", e.detail, e.ip_address or ""]
            for e in events.iterator(chunk_size=2000))
    return exports.table(request, f"audit-log-{date.today():%Y%m%d}", AUDIT_EXPORT_HEADER, rows,
                         title="Audit log")


def visible_events(user: Any) -> QuerySet[AuditEvent]:
    """Admins read every event; a manager those of their facilities, and the sign-ins and
    other facility-less events of the people who work there."""
    if has_perm(user, "manage_connections"):
        return AuditEvent.objects.all()
    facilities = facilities_for(user)
    staff = User.objects.filter(facilities__in=facilities).values("pk")
    return AuditEvent.objects.filter(Q(facility__in=facilities)
                                     | Q(facility__isnull=True, user__in=staff))
