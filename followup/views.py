from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from followup import dashboard as dash
from followup import sources, timeline, worklist
from followup.filters import WorklistFilter
from followup.models import FollowUp, Note, RecheckPolicy, SavedView
from revcycle import engine, exports, polling, services
from revcycle.access import facilities_for, get_for_user
from revcycle.audit import record_event
from revcycle.inputs import parse_id, parse_ids
from revcycle.models import Encounter, Ticket
from revcycle.paging import KeysetPage
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import has_perm, permission_required
from revcycle.services import outcome_advice, outcome_label, outcome_labels, ticket_url


def _colleagues(user: Any) -> Any:
    return (get_user_model().objects.filter(facilities__in=facilities_for(user), is_active=True)
            .distinct().order_by("username"))


CHOICES_CACHE_SECONDS = 300  # a new payer or colleague shows in the worklist's menus within


class Colleague(NamedTuple):
    pk: int
    label: str


def _menu_choices(user: Any) -> tuple[list[str], list[Colleague]]:
    """The payer filter's payers and the colleagues to assign to, for the user's facilities:
    the payers are a DISTINCT over every ticket there, too dear for each request."""
    def compute() -> tuple[list[str], list[Colleague]]:
        payers = list(Ticket.objects.for_user(user).exclude(payer="")
                      .values_list("payer", flat=True).distinct().order_by("payer")[:200])
        colleagues = [Colleague(u.pk, u.get_full_name() or u.username)
                      for u in _colleagues(user)]
        return payers, colleagues
    # Django's per-process memory cache (no CACHES setting): up to CHOICES_CACHE_SECONDS
    # stale in another process.
    return cache.get_or_set(f"followup.menus.{user.pk}", compute, CHOICES_CACHE_SECONDS)


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    # A local path only: redirect() would read any other text as a URL pattern's name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


def _reasons_url(ticket: Any, state: str) -> str:
    """A denial links to its reasons (only denials: other kinds' URLs may cost a query)."""
    url = ticket_url(ticket) if state == "denied" else ""
    return f"{url}#reasons" if url else ""


def _rows(page: KeysetPage, user: Any) -> list[dict[str, Any]]:
    today = timezone.localdate()
    show_names = has_perm(user, "view_results")
    out = []
    for ticket in page.rows:
        followup = getattr(ticket, "followup", None)
        state = ticket.outcome or ticket.state
        out.append({
            "ticket": ticket, "followup": followup,
            "patient": ticket.patient_name if show_names
            else worklist.mask_name(ticket.patient_name),
            "domain": sources.DOMAIN_LABELS.get(ticket.kind, ticket.kind),
            "age": worklist.age_days(ticket, today),
            "outcome": state, "outcome_label": outcome_label(state, ticket.kind),
            "reasons_url": _reasons_url(ticket, state),
            "advice": ticket.last_error if state in ("failed", "expired", "error")
            and ticket.last_error else outcome_advice(state, ticket.kind),
        })
    return out


def _worklist_filter(request: HttpRequest) -> WorklistFilter:
    """The worklist's filters over the tickets that need a person (page and export)."""
    return WorklistFilter(request.GET, worklist.needing_person(request.user), request=request)


@permission_required("view_results")
def worklist_view(request: HttpRequest) -> HttpResponse:
    filters = _worklist_filter(request)
    page = filters.keyset_page(worklist.with_rows(filters.qs), worklist.SORTS[filters.chosen_sort],
                               filters.page_size, count=False)
    summary = worklist.summarise(filters.qs)  # the count with the amounts, one statement
    page.count, page.capped = summary.total, summary.capped
    query = filters.querystring()
    payers, colleagues = _menu_choices(request.user)
    context = {
        "filters": {**filters.shown, "status": filters.chosen_status,
                    "sort": filters.chosen_sort, "size": filters.page_size},
        "filter_notes": filters.notes, "page": page, "rows": _rows(page, request.user),
        "summary": summary, "querystring": urlencode(query),
        "domains": sources.DOMAIN_LABELS.items(),
        "outcomes": [*outcome_labels().items(), ("cancelled", "Cancelled"),
                     ("open", "Still open")],
        "payers": payers,
        "buckets": [b[0] for b in worklist.AGE_BUCKETS],
        "sorts": [("age", "Oldest first"), ("-age", "Newest first"),
                  ("-amount", "Largest amount"), ("amount", "Smallest amount"),
                  ("payer", "Payer"), ("account", "Account")],
        "sizes": worklist.PAGE_SIZES,
        "colleagues": colleagues,
        "saved_views": SavedView.objects.filter(user=request.user),
        "can_act": has_perm(request.user, "run_lookups"),
    }
    template = "followup/worklist.html"
    if request.htmx:
        template += "#table"
    return render(request, template, context)


# The amounts of several services are in several currencies: each row says its own.
WORKLIST_EXPORT_HEADER = ["ticket", "account", "patient", "domain", "payer", "amount",
                          "currency", "service_date", "age_days", "outcome", "status",
                          "assigned_to"]


@permission_required("export_results")
def worklist_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every row the worklist's filters select (not one page), in the page's order."""
    filters = _worklist_filter(request)
    tickets = filters.qs.order_by(*worklist.SORTS[filters.chosen_sort])
    shown = ", ".join(f"{k}={'(search)' if k == 'q' else v}"
                      for k, v in sorted(filters.querystring().items())) or "none"
    record_event(request, "export", object_type="followup.worklist",
                 detail=f"worklist export, {tickets.count()} rows; filters: {shown}"[:500])
    show_names = has_perm(request.user, "view_results")
    today = timezone.localdate()

    def row(t: Ticket) -> list[Any]:
        followup = getattr(t, "followup", None)
        assignee = followup.assignee if followup else None
        return [t.pk, t.account_number,
                t.patient_name if show_names else worklist.mask_name(t.patient_name),
                sources.DOMAIN_LABELS.get(t.kind, t.kind), t.payer,
                t.amount if t.amount is not None else "",
                services.currency(t.kind) if t.amount is not None else "", t.service_date or "",
                worklist.age_days(t, today), outcome_label(t.outcome or t.state),
                followup.status if followup else FollowUp.Status.OPEN,
                assignee.username if assignee else ""]

    rows = (row(t) for t in tickets.select_related("followup__assignee")
            .iterator(chunk_size=2000))
    return exports.table(request, f"worklist-{today:%Y%m%d}", WORKLIST_EXPORT_HEADER, rows,
                         title="Worklist")


def _tickets_for(request: HttpRequest) -> list[Ticket]:
    ids = parse_ids(request.POST.getlist("ticket"))
    return list(Ticket.objects.for_user(request.user).filter(pk__in=ids)
                .select_related("encounter", "facility"))


@require_POST
@permission_required("run_lookups")
def act(request: HttpRequest) -> HttpResponse:
    """Assign, re-check or resolve the selected tickets (one or many)."""
    tickets = _tickets_for(request)
    action = request.POST.get("action", "")
    back = _back(request, reverse("followup:worklist"))
    if not tickets:
        messages.warning(request, "Select at least one row first.")
        return redirect(back)
    if action == "assign":
        raw = request.POST.get("assignee", "")
        assignee_id = parse_id(raw)
        assignee = _colleagues(request.user).filter(pk=assignee_id).first() if assignee_id else None
        if raw and assignee is None:
            messages.error(request, "That person does not work at your facilities.")
            return redirect(back)
        for ticket in tickets:
            FollowUp.for_ticket(ticket).assign(assignee)
            record_event(request, "change", ticket,
                         detail=f"assigned to user {assignee.pk if assignee else 'nobody'}")
        who = assignee.get_full_name() or assignee.username if assignee else "nobody"
        messages.success(request, f"{len(tickets)} assigned to {who}.")
    elif action == "recheck":
        requeued = 0
        for ticket in tickets:
            if engine.check_again(ticket):
                requeued += 1
                followup = FollowUp.objects.filter(ticket=ticket).first()
                if followup and followup.status == FollowUp.Status.RESOLVED:
                    followup.reopen()
                record_event(request, "submit", ticket, detail="check again from worklist")
        if requeued:
            engine.kick()
        skipped = len(tickets) - requeued
        messages.success(request, f"{requeued} queued to check again"
                         + (f"; {skipped} still open, left alone." if skipped else "."))
    elif action == "resolve":
        reason = request.POST.get("reason", "").strip()
        if not reason:
            messages.error(request, "Say why it is resolved.")
            return redirect(back)
        for ticket in tickets:
            FollowUp.for_ticket(ticket).resolve(request.user, reason)
            record_event(request, "change", ticket, detail="resolved")
        messages.success(request, f"{len(tickets)} marked resolved.")
    else:
        messages.error(request, "Unknown action.")
    return redirect(back)


@require_POST
@permission_required("run_lookups")
def add_note(request: HttpRequest, encounter_id: int) -> HttpResponse:
    encounter = get_for_user(Encounter.objects.all(), request.user, pk=encounter_id)
    text = request.POST.get("text", "").strip()
    back = _back(request, reverse("followup:account", args=[encounter.pk]))
    if not text:
        messages.error(request, "The note is empty.")
        return redirect(back)
    ticket_id = parse_id(request.POST.get("ticket"))
    ticket = encounter.tickets.filter(pk=ticket_id).first() if ticket_id else None
    note = Note.objects.create(encounter=encounter, ticket=ticket, author=request.user,
                               text=text[:5000])
    record_event(request, "create", note, encounter=encounter, facility=encounter.facility,
                 detail=f"note on ticket {ticket.pk}" if ticket else "note")
    messages.success(request, "Note added.")
    return redirect(back)


@require_POST
@permission_required("view_results")
def save_view(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:80]
    querystring = request.POST.get("querystring", "")[:1000]
    if not name:
        messages.error(request, "Give the view a name.")
    else:
        SavedView.objects.update_or_create(user=request.user, name=name,
                                           defaults={"querystring": querystring})
        messages.success(request, f"Saved view “{name}”.")
    return redirect(f"{reverse('followup:worklist')}?{querystring}")


@require_POST
@permission_required("view_results")
def delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    SavedView.objects.filter(user=request.user, pk=pk).delete()
    return redirect("followup:worklist")


@permission_required("view_results")
def account(request: HtmxHttpRequest, encounter_id: int) -> HttpResponse:
    encounter = get_for_user(Encounter.objects.select_related("facility"), request.user,
                             pk=encounter_id)
    tickets = list(encounter.tickets.select_related("connection", "created_by",
                                                    "followup__assignee").order_by("created_at"))
    events = timeline.build(encounter, tickets)
    running = [t for t in tickets if t.is_open]
    live = bool(running)
    context = {"encounter": encounter, "events": events, "tickets": tickets, "live": live,
               "poll_every": polling.poll_interval(*(t.next_poll_at for t in running)),
               "is_admin_user": has_perm(request.user, "manage_connections"),
               "can_act": has_perm(request.user, "run_lookups"),
               "colleagues": _colleagues(request.user)}
    if request.htmx:
        response = render(request, "followup/account.html#events", context)
        return polling.answer(request, response, final=not live)
    record_event(request, "view", encounter, detail="timeline")
    return render(request, "followup/account.html", context)


@permission_required("view_results")
def dashboard(request: HttpRequest) -> HttpResponse:
    from followup import health

    charts = dash.charts(request.user)
    context = {"charts": charts,
               "connections": health.panel() if has_perm(request.user, "manage_connections")
               else None}
    return render(request, "followup/dashboard.html", context)


@permission_required("export_results")
def dashboard_csv(request: HttpRequest, name: str) -> HttpResponse:
    charts = dash.charts(request.user)
    if name not in charts:
        raise Http404("No such chart.")
    chart = charts[name]
    record_event(request, "export", object_type="followup.dashboard", object_id=name,
                 detail=f"{len(chart.rows)} rows")
    return exports.table(request, f"{name}-{timezone.localdate():%Y%m%d}", chart.columns,
                         chart.rows, title=name, kinds=chart.amount_kinds)


@permission_required("manage_connections")
def recheck_policy(request: HttpRequest) -> HttpResponse:
    from followup.forms import RecheckPolicyForm
    from followup.models import RecheckRun

    policy = RecheckPolicy.get()
    form = RecheckPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        form.save()
        record_event(request, "change", policy, detail=", ".join(form.changed_data)[:400])
        messages.success(request, "Re-check schedule saved.")
        return redirect("followup:recheck_policy")
    return render(request, "followup/recheck_policy.html",
                  {"form": form, "runs": RecheckRun.objects.all()[:30]})


def my_settings(request: HttpRequest) -> HttpResponse:
    from followup.models import NotificationPreference

    pref, _ = NotificationPreference.objects.get_or_create(user=request.user)
    if request.method == "POST":
        pref.daily_digest = request.POST.get("daily_digest") == "on"
        pref.save(update_fields=["daily_digest"])
        record_event(request, "change", pref,
                     detail=f"daily digest {'on' if pref.daily_digest else 'off'}")
        messages.success(request, "Settings saved.")
        return redirect("followup:my_settings")
    return render(request, "followup/my_settings.html", {"pref": pref})
