from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection as db_connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from revcycle.access import get_for_user
from revcycle.audit import record_event
from revcycle.models import AuditEvent, Encounter, Ticket
from revcycle.roles import permission_required


@login_not_required
@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: the process answers and the database is reachable."""
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    tickets = Ticket.objects.for_user(request.user)
    return render(request, "revcycle/home.html", {
        "open_count": tickets.open().count(),
        "recent": tickets.defer("request", "response")[:10],
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


@permission_required("view_audit_log")
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("facility")
    if who := request.GET.get("user", "").strip():
        events = events.filter(username__icontains=who)
    if action := request.GET.get("action", "").strip():
        events = events.filter(action=action)
    if obj := request.GET.get("object", "").strip():
        events = events.filter(object_type__icontains=obj)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "revcycle/audit_log.html",
                  {"page": page, "actions": AuditEvent.Action.choices, "filters": request.GET})
