"""Insurance discovery pages: the lookup form, a lookup's results with coverage cards,
and "use this coverage"."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from eligibility import flow
from eligibility.batch import SPEC
from eligibility.filters import OUTCOME_FILTERS, DiscoveryFilter
from eligibility.forms import LookupForm
from eligibility.models import KIND, Coverage
from revcycle import engine, exports, polling
from revcycle.access import connections_for, default_facility, get_for_user
from revcycle.audit import record_event
from revcycle.batches import visible_batches
from revcycle.crypto import mask_ssn
from revcycle.inputs import parse_id
from revcycle.logfilters import redact
from revcycle.models import Encounter, Ticket
from revcycle.paging import rows_fingerprint
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import has_perm, permission_required

SSN_FIELDS = ("patientSsn", "subscriberSsn")


def _prefill(request: HttpRequest) -> tuple[dict[str, Any], Encounter | None]:
    """Initial values: from the account in ?account=, else the facility's billing NPI."""
    facility = default_facility(request.user)
    initial: dict[str, Any] = {"serviceType": "30"}
    if facility:
        initial.update(facility=facility.pk, billingProviderNpi=facility.npi)
    account = request.GET.get("account", "").strip()
    if not account:
        return initial, None
    encounter = Encounter.objects.for_user(request.user).filter(account_number=account).first()
    if encounter is None:
        messages.warning(request, f"No account {account} at your facilities.")
        return initial, None
    values = flow.request_from_encounter(encounter)
    for name in SSN_FIELDS:  # never put an SSN back on a page: it stays on file
        values[name] = ""
    initial.update({k: v for k, v in values.items() if v}, facility=encounter.facility_id,
                   encounter=encounter.pk)
    record_event(request, "view", encounter, detail="prefilled discovery form")
    return initial, encounter


def _ssns_on_file(form: LookupForm, encounter: Encounter | None) -> dict[str, str]:
    if encounter is None:
        return {}
    on_file = {"patientSsn": encounter.patient_ssn, "subscriberSsn": encounter.subscriber_ssn}
    for name, ssn in on_file.items():
        if ssn:
            form.fields[name].help_text = f"On file: {mask_ssn(ssn)}. Leave blank to use it."
    return on_file


def _ask_to_reenter_ssns(form: LookupForm) -> None:
    """A redisplayed form leaves the SSN boxes empty (SsnInput): say so where one was typed."""
    for name in SSN_FIELDS:
        if form.data.get(name):
            form[name].help_text = "Re-enter the SSN: it is not shown again."


PER_PAGE = 50
ORDER = ("-created_at", "-id")  # newest first: index ticket_kind_recent


def filter_tickets(request: HttpRequest) -> DiscoveryFilter:
    """The worklist's filters over the user's discovery lookups (page and export)."""
    tickets = Ticket.objects.for_user(request.user).of_kind(KIND).order_by(*ORDER)
    return DiscoveryFilter(request.GET, tickets, request=request)


def _filters_for_audit(f: dict[str, str]) -> str:
    """Filters without patient data: a search text is not recorded."""
    shown = {k: ("(search)" if k == "q" else v) for k, v in f.items() if v}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "none"


@permission_required("view_results")
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The worklist: every discovery lookup of the user's facilities, filtered."""
    filters = filter_tickets(request)
    tickets, f = filters.qs, filters.shown
    if polling.unchanged(request, lambda: filters.poll_fingerprint(tickets, ORDER, PER_PAGE)):
        return polling.nothing_new()
    page = filters.keyset_page(tickets.select_related("batch"), ORDER, PER_PAGE)
    seen = rows_fingerprint(page, page.has_next)
    template = "eligibility/home.html"
    if request.htmx:
        template += "#rows"
    open_tickets = [t for t in page if t.is_open]
    response = render(request, template, {
        "page": page, "f": f, "filter_notes": filters.notes, "outcomes": OUTCOME_FILTERS,
        "has_open": bool(open_tickets), "urls": SPEC.url_names(),
        "seen": seen,
        "poll_every": polling.poll_interval(*(t.next_poll_at for t in open_tickets)),
        "batches": visible_batches(request.user, SPEC).only("id", "filename")[:50],
        "full_ssn": flow.can_export_full_ssn(request.user),
    })
    return polling.answer(request, response, final=not open_tickets, seen=seen)


@permission_required("export_results")
def export(request: HttpRequest) -> StreamingHttpResponse:
    """The worklist as CSV, one row per coverage. Managers and admins get SSNs in full;
    everyone else masked. Audited with the filters and which it was."""
    filters = filter_tickets(request)
    tickets, f = filters.qs, filters.shown
    full_ssn = flow.can_export_full_ssn(request.user)
    record_event(request, "export", object_type="eligibility.discovery",
                 detail=f"discovery worklist export ({_filters_for_audit(f)}), "
                        f"{tickets.count()} lookups, ssn={'full' if full_ssn else 'masked'}")
    rows = flow.export_rows(
        tickets.prefetch_related("coverages").iterator(chunk_size=2000), full_ssn=full_ssn)
    return exports.table(request, "discovery", flow.EXPORT_HEADER, rows,
                         title="Discovery", kinds=flow.EXPORT_KINDS)


@sensitive_post_parameters(*SSN_FIELDS)
@sensitive_variables("body")
@permission_required("run_lookups")
def new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LookupForm(request.POST, user=request.user)
        encounter_id = parse_id(request.POST.get("encounter"))
        encounter = (Encounter.objects.for_user(request.user).filter(pk=encounter_id).first()
                     if encounter_id else None)
        on_file = _ssns_on_file(form, encounter)
        if form.is_valid():
            facility = form.cleaned_data["facility"]
            connection = connections_for(request.user, "integrex").filter(
                facilities=facility).first()
            if connection is None:
                form.add_error("facility", "No active Integrex connection serves this facility; "
                                           "ask an admin to set one up.")
            else:
                body = {name: form.cleaned_data.get(name) for name in form.fields
                        if name not in ("facility", "encounter")}
                for name in SSN_FIELDS:
                    body[name] = body[name] or on_file.get(name, "")
                if encounter and encounter.facility_id != facility.pk:
                    encounter = None
                ticket = flow.queue_lookup(facility=facility, connection=connection,
                                                body=body, user=request.user,
                                                encounter=encounter)
                record_event(request, "submit", ticket, detail=f"discovery ticket {ticket.pk}")
                engine.kick()
                return redirect("eligibility:result", pk=ticket.pk)
    else:
        initial, encounter = _prefill(request)
        form = LookupForm(initial=initial, user=request.user)
        _ssns_on_file(form, encounter)
    if form.is_bound:
        _ask_to_reenter_ssns(form)
    return render(request, "eligibility/new.html", {"form": form, "encounter": encounter})


def _ticket(request: HttpRequest, pk: int) -> Ticket:
    return get_for_user(Ticket.objects.of_kind(KIND).select_related("encounter", "facility"),
                        request.user, pk=pk)


@permission_required("view_results")
def result(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A lookup's state, then its coverages. The page is an audited view (it shows the
    masked SSN); the polling fragment shows no identifiers and is not."""
    ticket = _ticket(request, pk)
    if request.htmx and ticket.is_open:
        return render(request, "eligibility/result.html#status", {
            "ticket": ticket, "poll_every": polling.poll_interval(ticket.next_poll_at)})
    if request.htmx:
        # The answer arrived: reload the whole page (audited) to draw the coverage cards.
        response = polling.stop_polling(HttpResponse())
        response["HX-Refresh"] = "true"
        return response
    record_event(request, "view", ticket, detail=f"discovery result {ticket.pk}")
    body = ticket.request or {}
    context = {
        "ticket": ticket, "poll_every": polling.poll_interval(ticket.next_poll_at),
        # A "search again" that ends in an error must not leave the old cards standing.
        "coverages": (ticket.coverages.select_related("applied_by")
                      if ticket.outcome == flow.FOUND else []),
        "patient": {
            "name": f"{body.get('patientFirstName', '')} {body.get('patientLastName', '')}",
            "dob": body.get("patientDob", ""), "gender": body.get("patientGender", ""),
            "ssn": mask_ssn(body.get("patientSsn")),
            "member_id": body.get("sub.MemberID", ""), "region": body.get("payerName", ""),
            "begin": body.get("beginDos", ""), "end": body.get("endDos", ""),
        },
        "outcome_label": flow.OUTCOMES.get(ticket.outcome, ""),
        "raw_json": _raw_json(request, ticket),
        "can_apply": has_perm(request.user, "run_lookups") and ticket.encounter_id is not None,
    }
    return render(request, "eligibility/result.html", context)


def _raw_json(request: HttpRequest, ticket: Ticket) -> str:
    """The raw answer, for admins only, with anything shaped like an SSN masked."""
    if ticket.response is None or not has_perm(request.user, "manage_connections"):
        return ""
    return redact(json.dumps(ticket.response, indent=2, ensure_ascii=False))


@require_POST
@permission_required("run_lookups")
def check_again(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    if engine.check_again(ticket):
        record_event(request, "submit", ticket, detail=f"check again, ticket {ticket.pk}")
        engine.kick()
    return redirect("eligibility:result", pk=ticket.pk)


@require_POST
@permission_required("run_lookups")
def apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Use this coverage: payer and member id onto the encounter."""
    coverage = _coverage(request, pk)
    if coverage.ticket.encounter is None:
        messages.error(request, "This lookup is not linked to an account; nothing to update.")
        return redirect("eligibility:result", pk=coverage.ticket_id)
    encounter = flow.apply_coverage(request, coverage)
    messages.success(request, f"Account {encounter.account_number} now bills "
                              f"{encounter.payer_name}, member id {encounter.subscriber_id}.")
    return redirect("eligibility:result", pk=coverage.ticket_id)


def _coverage(request: HttpRequest, pk: int) -> Coverage:
    coverage = (Coverage.objects.for_user(request.user)
                .select_related("ticket__encounter__facility").filter(pk=pk).first())
    if coverage is None:
        raise Http404("No such coverage, or it belongs to a facility you do not work for.")
    return coverage
