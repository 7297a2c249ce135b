"""The Smart visit desk: find a patient's sessions, activate one for a visit, read the
member's benefits, post the invoice and watch it until Smart marks it Billed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from revcycle import codes, engine, errors, exports, polling
from revcycle.access import connections_for, default_facility, facilities_for, get_for_user
from revcycle.audit import record_event
from revcycle.inputs import parse_id
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import has_perm, permission_required
from smartlink import client, flow, visits
from smartlink.forms import (
    ActivateForm,
    DiagnosisFormSet,
    InvoiceForm,
    LateDiagnosisForm,
    LineFormSet,
    LookupForm,
    ReasonForm,
)
from smartlink.models import SmartFacility, SmartInvoice, SmartSession, not_billed_hours


def _session(request: HttpRequest, pk: int) -> SmartSession:
    return get_for_user(SmartSession.objects.select_related("connection", "facility"),
                        request.user, pk=pk)


def _invoice(request: HttpRequest, pk: int) -> SmartInvoice:
    return get_for_user(SmartInvoice.objects.select_related("session", "facility", "connection",
                                                            "ticket"), request.user, pk=pk)


@permission_required("view_results")
def desk(request: HttpRequest) -> HttpResponse:
    mine = SmartInvoice.objects.for_user(request.user)
    at_risk = mine.not_billed()
    return render(request, "smartlink/desk.html", {
        "form": LookupForm(facilities=facilities_for(request.user)),
        "at_risk_count": at_risk.count(), "at_risk_amount": flow.amount_at_risk(at_risk),
        "hours": not_billed_hours(),
        "without_diagnosis": mine.without_diagnosis().select_related("session")[:20],
        "recent": mine.select_related("session")[:15],
        "expired": SmartSession.objects.for_user(request.user).filter(
            status=SmartSession.Status.EXPIRED, renewal_requested_at__isnull=True)[:20],
    })


@require_POST
@permission_required("run_lookups")
def lookup(request: HttpRequest) -> HttpResponse:
    """Step 1: the patient's PENDING sessions, each with the time left."""
    facilities = facilities_for(request.user)
    form = LookupForm(request.POST, facilities=facilities)
    context: dict[str, Any] = {"form": form, "searched": False}
    if form.is_valid():
        facility = form.cleaned_data.get("facility") or default_facility(request.user)
        connection = connections_for(request.user, "smart").filter(facilities=facility).first()
        patient = form.cleaned_data["patient_number"]
        context.update(searched=True, patient_number=patient)
        if connection is None:
            context["error"] = f"{facility} has no Smart connection. An admin sets one up."
        else:
            try:
                context["sessions"] = visits.find_sessions(connection, facility, patient,
                                                           request.user)
            except errors.ApiError as exc:
                context["error"] = f"Smart could not list the sessions: {exc.message}"
            context["active"] = SmartSession.objects.filter(
                facility=facility, patient_number=patient, status=SmartSession.Status.ACTIVE)[:5]
            record_event(request, "view", object_type="smartlink.smartsession",
                         facility=facility, detail="session lookup")
    return render(request, "smartlink/desk.html#sessions", context)


@require_POST
@permission_required("run_lookups")
def activate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Step 2: merge the session with the visit number; then read the member (step 3)."""
    session = _session(request, pk)
    form = ActivateForm(request.POST)
    error, other = "", None
    if form.is_valid():
        try:
            visits.activate(session, form.cleaned_data["visit_number"], request.user)
        except visits.AlreadyMerged as exc:
            messages.info(request, exc.message)
            _read_member(request, session)
            url = reverse("smartlink:visit", args=[session.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        except visits.SessionProblem as exc:
            error, other = exc.message, exc.open_session
        except errors.ApiError as exc:
            error = f"Smart did not activate the session: {exc.message}"
        else:
            record_event(request, "change", session, detail="session activated")
            _read_member(request, session)
            url = reverse("smartlink:visit", args=[session.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    session.refresh_from_db()
    return render(request, "smartlink/desk.html#session", {
        "s": session, "activate_form": form, "error": error, "other": other})


def _read_member(request: HttpRequest, session: SmartSession) -> None:
    try:
        visits.refresh_member(session, request.user)
    except errors.ApiError as exc:
        messages.error(request, f"Smart did not send the member's benefits: {exc.message}")


@require_POST
@permission_required("run_lookups")
def refresh_member(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session(request, pk)
    _read_member(request, session)
    return redirect("smartlink:visit", pk=session.pk)


@require_POST
@permission_required("run_lookups")
def renewal_requested(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session(request, pk)
    session.renewal_requested_at = timezone.now()
    session.renewal_requested_by = request.user
    session.save(update_fields=["renewal_requested_at", "renewal_requested_by"])
    session.log("new session requested", "Asked Smart to open a new session.", user=request.user)
    messages.success(request, f"Recorded: a new session was requested for patient file "
                              f"{session.patient_number}.")
    return redirect("smartlink:desk")


def _visit_context(session: SmartSession, request: HttpRequest, **forms: Any) -> dict[str, Any]:
    member = getattr(session, "member", None)
    smart_copay = SmartFacility.for_facility(session.facility).manages_copay
    return {
        "s": session, "member": member, "smart_copay": smart_copay,
        "invoice_form": forms.get("invoice_form") or InvoiceForm(member=member,
                                                                smart_copay=smart_copay),
        "lines": forms.get("lines") or LineFormSet(prefix="lines"),
        "diagnoses": forms.get("diagnoses") or DiagnosisFormSet(prefix="dx"),
        "over_balance": forms.get("over_balance"),
        "duplicate": forms.get("duplicate"),
        "can_override": has_perm(request.user, "override_duplicates"),
        "invoices": session.invoices.all(),
        "events": session.events.select_related("invoice", "user"),
        "show_raw": _shows_raw(request),
    }


def _shows_raw(request: HttpRequest) -> bool:
    """Smart's raw answers (error bodies) are for admins, who read them to talk to Smart."""
    return has_perm(request.user, "manage_connections")


@permission_required("view_results")
def visit(request: HttpRequest, pk: int) -> HttpResponse:
    """Steps 3-5 for one session: member, benefits, co-pay and the invoice (with a refused
    post's fields, when the post was just refused)."""
    session = _session(request, pk)
    record_event(request, "view", session, encounter=session.encounter)
    forms = _refused_forms(request, session)
    return render(request, "smartlink/visit.html", _visit_context(session, request, **forms))


REFUSED_DRAFT = "smart_refused_invoice"  # the session key of a refused post's fields


def _refuse(request: HttpRequest, session: SmartSession, problem: str = "", *,
            duplicate: SmartInvoice | None = None,
            over_balance: tuple[Decimal, Decimal] | None = None) -> HttpResponse:
    """Post/redirect/get for a refused invoice: the reason is a message and the fields wait
    in the session for the visit page, so reloading that page never posts again."""
    request.session[REFUSED_DRAFT] = {
        "session": session.pk,
        "data": {k: request.POST.getlist(k) for k in request.POST
                 if k != "csrfmiddlewaretoken"},
        "duplicate": duplicate.pk if duplicate else None,
        "over_balance": [str(v) for v in over_balance] if over_balance else None,
    }
    if problem:
        messages.error(request, problem)
    return redirect("smartlink:visit", pk=session.pk)


def _refused_forms(request: HttpRequest, session: SmartSession) -> dict[str, Any]:
    """The refused post's forms, bound again to its fields (shown once, then forgotten)."""
    draft = request.session.pop(REFUSED_DRAFT, None)
    member = getattr(session, "member", None)
    if not draft or draft.get("session") != session.pk or member is None:
        return {}
    data = QueryDict(mutable=True)
    for key, values in draft["data"].items():
        data.setlist(key, values)
    smart_copay = SmartFacility.for_facility(session.facility).manages_copay
    forms: dict[str, Any] = {
        "invoice_form": InvoiceForm(data, member=member, smart_copay=smart_copay),
        "lines": LineFormSet(data, prefix="lines"),
        "diagnoses": DiagnosisFormSet(data, prefix="dx"),
    }
    if draft["duplicate"]:
        forms["duplicate"] = SmartInvoice.objects.filter(pk=draft["duplicate"]).first()
    if draft["over_balance"]:
        claimed, balance = (Decimal(v) for v in draft["over_balance"])
        forms["over_balance"] = {"claimed": claimed, "balance": balance}
    return forms


@require_GET
@permission_required("view_results")
def copay(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 4: Smart's co-pay on the chosen benefit, only where Smart manages co-pays."""
    session = _session(request, pk)
    context: dict[str, Any] = {"s": session}
    arrangements = SmartFacility.for_facility(session.facility)
    if not arrangements.manages_copay:
        context["error"] = "This facility manages its own co-pays: enter what the patient paid."
    else:
        # A session without member data has no benefits; a benefit id that is not a
        # number chooses none.
        member = getattr(session, "member", None)
        benefit_id = parse_id(request.GET.get("benefit"))
        benefit = member.benefits.filter(pk=benefit_id).first() if member and benefit_id else None
        if benefit is None:
            context["error"] = "Choose a benefit first."
        else:
            try:
                context["copay"] = client.copayment(session.connection, benefit.benefit_id,
                                                    arrangements.provider_key,
                                                    session.visit_number)
            except errors.ApiError as exc:
                context["error"] = f"Smart did not give the co-pay: {exc.message}"
    return render(request, "smartlink/visit.html#copay", context)


def _smart_copay(session: SmartSession, benefit: Any, total: Decimal) -> Decimal:
    found = client.copayment(session.connection, benefit.benefit_id,
                             SmartFacility.for_facility(session.facility).provider_key,
                             session.visit_number)
    return found.for_total(total)


@require_POST
@permission_required("run_lookups")
def post_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 5: check the invoice, refuse a second one on the visit and benefit unless a
    manager overrides, then queue the post."""
    session = _session(request, pk)
    member = getattr(session, "member", None)
    if session.status != SmartSession.Status.ACTIVE or member is None:
        messages.error(request, "Activate the session and read the benefits first.")
        return redirect("smartlink:visit", pk=session.pk)
    smart_copay = SmartFacility.for_facility(session.facility).manages_copay
    form = InvoiceForm(request.POST, member=member, smart_copay=smart_copay)
    lines = LineFormSet(request.POST, prefix="lines")
    diagnoses = DiagnosisFormSet(request.POST, prefix="dx")
    if not (form.is_valid() and lines.is_valid() and diagnoses.is_valid()):
        return _refuse(request, session, "The invoice was not posted: correct the fields marked.")
    line_rows = [f.as_line() for f in lines if f.has_changed() and f.cleaned_data]
    dx_rows = [f.as_diagnosis() for f in diagnoses if f.has_changed() and f.cleaned_data]
    if not line_rows:
        return _refuse(request, session, "An invoice needs at least one line.")
    if not dx_rows and not SmartFacility.for_facility(session.facility).late_diagnosis:
        return _refuse(request, session,
                       flow.NO_DIAGNOSIS.format(facility=session.facility.name))
    benefit = form.cleaned_data["benefit"]
    total = sum((Decimal(r["amount"]) for r in line_rows), Decimal("0"))
    reason = form.cleaned_data["override_reason"].strip()
    duplicate = SmartInvoice.objects.same_visit_and_benefit(
        session.facility, session.visit_number, benefit.benefit_id).first()
    if duplicate and not (reason and has_perm(request.user, "override_duplicates")):
        problem = (f"Visit {session.visit_number} already has invoice "
                   f"{duplicate.invoice_number} on {benefit.name}. A visit carries one invoice "
                   "per benefit; a manager can allow a second one with a reason.")
        return _refuse(request, session, problem, duplicate=duplicate)
    try:
        copay = (_smart_copay(session, benefit, total) if smart_copay
                 else form.cleaned_data.get("copay_amount") or Decimal("0"))
    except errors.ApiError as exc:
        return _refuse(request, session, f"Smart did not give the co-pay: {exc.message}")
    claimed = total - copay
    if (benefit.balance is not None and claimed > benefit.balance
            and not form.cleaned_data["accept_over_balance"]):
        return _refuse(request, session, over_balance=(claimed, benefit.balance))
    try:
        invoice = flow.create_invoice(
            session=session, benefit=benefit, invoice_number=form.cleaned_data["invoice_number"],
            lines=line_rows, diagnoses=dx_rows, copay_amount=copay, copay_from_smart=smart_copay,
            user=request.user, override_reason=reason if duplicate else "")
    except IntegrityError:
        return _refuse(request, session, "That invoice number is taken; use another.")
    except flow.InvoiceProblem as exc:
        return _refuse(request, session, exc.message)
    record_event(request, "submit", invoice, encounter=session.encounter,
                 detail=f"invoice {invoice.pk} queued")
    if duplicate:
        record_event(request, "change", invoice, encounter=session.encounter,
                     detail=f"duplicate override: invoice {invoice.pk} beside {duplicate.pk}")
    engine.kick()
    return redirect("smartlink:invoice", pk=invoice.pk)


@permission_required("view_results")
def invoice(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Step 6: the invoice, its status (live while not final) and its history."""
    inv = _invoice(request, pk)
    template = "smartlink/invoice.html"
    if request.htmx:
        template += "#status"  # a poll: indexed reads only, no call to Smart
    else:
        record_event(request, "view", inv, encounter=inv.session.encounter)
    ticket = inv.ticket
    response = render(request, template, {
        "inv": inv, "events": inv.events.select_related("user"),
        "diagnoses": [{**d, "label": codes.label("icd10cm", d.get("code"))} for d in inv.diagnoses],
        "reason_form": ReasonForm(initial={"reason": inv.not_billed_reason}),
        "dx_form": LateDiagnosisForm(), "hours": not_billed_hours(),
        "show_raw": _shows_raw(request),
        "overdue": inv.pk in set(SmartInvoice.objects.filter(pk=inv.pk).not_billed()
                                 .values_list("pk", flat=True)),
        # Smart bills within hours and its ticket backs off to half-hourly looks; an invoice
        # whose ticket stopped waits for the background re-check.
        "poll_every": polling.poll_interval(ticket.next_poll_at if ticket else None,
                                            slow=not (ticket and ticket.is_open)),
    })
    return polling.answer(request, response, final=inv.is_final)


@require_POST
@permission_required("run_lookups")
def check_status(request: HttpRequest, pk: int) -> HttpResponse:
    inv = _invoice(request, pk)
    if flow.check_now(inv, request.user):
        engine.kick()
        messages.success(request, "Checking the status with Smart.")
    else:
        messages.error(request, "Smart never accepted this invoice; there is nothing to check.")
    return redirect("smartlink:invoice", pk=inv.pk)


@require_POST
@permission_required("run_lookups")
def record_reason(request: HttpRequest, pk: int) -> HttpResponse:
    inv = _invoice(request, pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            flow.record_not_billed_reason(inv, form.cleaned_data["reason"], request.user)
        except flow.InvoiceProblem as exc:
            messages.error(request, exc.message)
        else:
            record_event(request, "change", inv, detail=f"not-billed reason on invoice {inv.pk}")
            messages.success(request, "Reason recorded.")
    else:
        messages.error(request, "Write the reason or the action taken.")
    return redirect("smartlink:invoice", pk=inv.pk)


@require_POST
@permission_required("run_lookups")
def late_diagnosis(request: HttpRequest, pk: int) -> HttpResponse:
    inv = _invoice(request, pk)
    form = LateDiagnosisForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            flow.send_late_diagnosis(inv, [form.as_diagnosis()], request.user)
        except flow.InvoiceProblem as exc:
            messages.error(request, exc.message)
        else:
            record_event(request, "submit", inv, detail=f"late diagnosis on invoice {inv.pk}")
            messages.success(request, "Smart received the diagnosis.")
    return redirect("smartlink:invoice", pk=inv.pk)


def _not_billed(request: HttpRequest) -> Any:
    return (SmartInvoice.objects.for_user(request.user).not_billed()
            .select_related("facility", "not_billed_reason_by").order_by("posted_at", "created_at"))


@permission_required("view_results")
def not_billed(request: HttpRequest) -> HttpResponse:
    rows = _not_billed(request)
    return render(request, "smartlink/not_billed.html", {
        "rows": rows, "total": flow.amount_at_risk(rows), "hours": not_billed_hours()})


CSV_HEADER = ["invoice_number", "facility", "visit_number", "benefit", "status", "posted_at",
              "hours_waiting", "total_amount", "copay_amount", "amount_at_risk",
              "reason_or_action", "recorded_by", "recorded_at"]


@permission_required("export_results")
def not_billed_csv(request: HttpRequest) -> HttpResponse:
    rows = _not_billed(request)
    record_event(request, "export", object_type="smartlink.smartinvoice",
                 detail=f"not-billed list, {rows.count()} invoice(s)")
    now = timezone.now()

    def lines() -> Any:
        for inv in rows.iterator():
            since = inv.posted_at or inv.created_at
            yield [inv.invoice_number, inv.facility.name, inv.visit_number, inv.benefit_name,
                   inv.get_status_display(), since.isoformat(timespec="seconds"),
                   f"{(now - since).total_seconds() / 3600:.1f}", inv.total_amount,
                   inv.copay_amount, inv.amount_at_risk, inv.not_billed_reason,
                   inv.not_billed_reason_by.username if inv.not_billed_reason_by else "",
                   inv.not_billed_reason_at.isoformat(timespec="seconds")
                   if inv.not_billed_reason_at else ""]

    return exports.table(request, f"smart-not-billed-{now:%Y%m%d-%H%M}", CSV_HEADER, lines(),
                         title="Not billed")
