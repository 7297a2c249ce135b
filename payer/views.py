"""Payer claims (HCMS): submit, follow a claim's timeline, list, export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from payer import flow as payer_flow
from payer.filters import PayerClaimFilter
from payer.forms import PayerClaimForm, initial_from, initial_from_claim, procedure_code_set
from payer.models import PayerClaim
from revcycle import codes, engine, exports, medcodes, polling
from revcycle.access import connections_for, get_for_user
from revcycle.audit import record_event
from revcycle.inputs import parse_id
from revcycle.models import Encounter, Ticket
from revcycle.paging import PAGING_PARAMS
from revcycle.polling import HtmxHttpRequest
from revcycle.roles import has_perm, permission_required

Status = PayerClaim.Status
PER_PAGE = 50
ORDER = ("-created_at", "-id")  # newest first: index payer_claim_recent


def _load(request: HttpRequest, pk: int) -> PayerClaim:
    return get_for_user(
        PayerClaim.objects.select_related("connection", "ticket", "facility"), request.user, pk=pk
    )


def _filtered(request: HttpRequest) -> PayerClaimFilter:
    """The list's filters over the user's payer claims (page and export)."""
    claims = PayerClaim.objects.for_user(request.user).select_related("connection")
    return PayerClaimFilter(request.GET, claims, request=request)


@permission_required("view_results")
@require_GET
def payer_list(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    claims, filters = filterset.qs, filterset.shown
    page = filterset.keyset_page(claims, ORDER, PER_PAGE, count=False)
    # The totals' aggregate counts the rows too (capped like a count): no second COUNT(*).
    totals = claims.totals()
    page.count, page.capped = totals.pop("count"), totals.pop("capped")
    query = request.GET.copy()
    for name in PAGING_PARAMS:
        query.pop(name, None)
    return render(
        request,
        "payer/list.html",
        {
            "page": page,
            "totals": totals,
            "count": page.count,
            "filters": filters,
            "filter_notes": filterset.notes,
            "statuses": Status.choices,
            "connections": connections_for(request.user, "payer"),
            "query": query.urlencode(),
        },
    )


EXPORT_HEADER = [
    "claim_id",
    "status",
    "patient_name",
    "insurance_id",
    "patient_id",
    "diagnosis_code",
    "procedure_code",
    "amount",
    "date_of_service",
    "priority",
    "expected_payment",
    "patient_responsibility",
    "approved_amount",
    "expected_payment_date",
    "payment_method",
    "review_reason",
    "rejection_reason",
    "error_code",
    "reference",
    "submitted_date",
]


def _export_row(claim: PayerClaim) -> list[Any]:
    sent = (claim.ticket.request if claim.ticket else None) or {}
    return [
        claim.claim_id,
        claim.status,
        claim.patient_name,
        sent.get("insurance_id", ""),
        sent.get("patient_id", ""),
        claim.diagnosis_code,
        claim.procedure_code,
        claim.amount,
        claim.date_of_service or "",
        claim.priority,
        claim.expected_payment if claim.expected_payment is not None else "",
        claim.patient_responsibility if claim.patient_responsibility is not None else "",
        claim.approved_amount if claim.approved_amount is not None else "",
        claim.expected_payment_date or "",
        claim.payment_method,
        claim.review_reason,
        claim.rejection_reason,
        claim.error_code,
        claim.reference,
        claim.created_at.isoformat(timespec="seconds"),
    ]


@permission_required("export_results")
@require_GET
def payer_export(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    claims, filters = filterset.qs.select_related("ticket"), filterset.shown
    shown = ",".join(f"{k}={v}" for k, v in filters.items() if v)
    record_event(
        request,
        "export",
        object_type="claims.payerclaim",
        detail=f"payer claims CSV, {claims.count()} rows; {shown}"[:500],
    )
    return exports.table(
        request, "payer-claims", EXPORT_HEADER,
        (_export_row(c) for c in claims.iterator(chunk_size=500)), title="Payer claims",
    )


@permission_required("run_lookups")
def payer_new(request: HttpRequest) -> HttpResponse:
    account = request.GET.get("account", "").strip()
    encounter = (
        Encounter.objects.for_user(request.user)
        .select_related("facility")
        .filter(account_number=account)
        .first()
        if account
        else None
    )
    if request.method == "POST":
        encounter_id = parse_id(request.POST.get("encounter"))
        encounter = (
            Encounter.objects.for_user(request.user).filter(pk=encounter_id).first()
            if encounter_id
            else None
        )
        form = PayerClaimForm(request.POST, user=request.user)
        if form.is_valid():
            return _create(request, form, encounter)
    else:
        connection = connections_for(request.user, "payer").first()
        refused = _refused_copy(request)
        initial = (initial_from_claim(refused) if refused
                   else initial_from(encounter, connection))
        form = PayerClaimForm(initial=initial, user=request.user)
    return render(
        request,
        "payer/form.html",
        {"form": form, "encounter": encounter, "account": account},
    )


def _refused_copy(request: HttpRequest) -> PayerClaim | None:
    """"Correct and resend": the refused claim (of the user's facilities) to copy from."""
    raw = request.GET.get("from", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    return _load(request, int(raw))


def _create(
    request: HttpRequest, form: PayerClaimForm, encounter: Encounter | None
) -> HttpResponse:
    data, body = form.cleaned_data, form.body()
    duplicate = payer_flow.find_duplicate(data["connection"], body)
    existing = PayerClaim.objects.filter(reference=data["reference"]).first()
    if (
        existing is None
        and duplicate
        and not (data.get("submit_anyway") and has_perm(request.user, "override_duplicates"))
    ):
        form.add_error(
            None,
            f"An identical claim ({duplicate.reference}, "
            f"{duplicate.get_status_display()}) was already sent to this payer.",
        )
        return render(
            request,
            "payer/form.html",
            {"form": form, "encounter": encounter, "duplicate": duplicate},
        )
    claim, created = payer_flow.create_claim(
        reference=data["reference"],
        facility=data["facility"],
        connection=data["connection"],
        encounter=encounter if encounter and encounter.facility_id == data["facility"].pk else None,
        body=body,
        user=request.user,
    )
    if created:
        record_event(request, "submit", claim, detail=f"payer claim {claim.reference}")
        engine.kick()
    else:
        messages.info(request, "This form was already sent; here is the claim it made.")
    return redirect("payer:detail", pk=claim.pk)


@permission_required("view_results")
@require_GET
def payer_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    claim = _load(request, pk)
    if request.htmx:
        # The live fragment: a few indexed reads, never an API call.
        response = render(request, "payer/detail.html#answer", _detail_context(claim))
        return polling.answer(request, response, final=not claim.is_waiting)
    record_event(request, "view", claim, detail=f"payer claim {claim.reference}")
    return render(request, "payer/detail.html", _detail_context(claim))


def _detail_context(claim: PayerClaim) -> dict[str, Any]:
    sent = (claim.ticket.request if claim.ticket else None) or {}
    on = claim.date_of_service
    return {
        "claim": claim,
        "sent": sent,
        "events": claim.events.all(),
        "diagnosis_label": codes.label("icd10cm", claim.diagnosis_code, on),
        "procedure_label": (
            codes.label(procedure_code_set(claim.procedure_code), claim.procedure_code, on)
            if claim.procedure_code
            else ""
        ),
        "ticket": claim.ticket,
        # A review takes hours to days: no need to look every few seconds.
        "poll_every": polling.poll_interval(
            claim.ticket.next_poll_at if claim.ticket else None,
            slow=claim.status == PayerClaim.Status.UNDER_REVIEW),
    }


@permission_required("override_duplicates")
@require_POST
def payer_resend(request: HttpRequest, pk: int) -> HttpResponse:
    claim = _load(request, pk)
    if payer_flow.confirm_resend(claim, request.user):
        record_event(
            request, "change", claim, detail=f"re-sent after unknown outcome {claim.reference}"
        )
        engine.kick()
        messages.success(request, "Re-sent. You confirmed the payer did not have it.")
    else:
        messages.error(request, "Only a claim whose outcome is unknown can be re-sent.")
    return redirect("payer:detail", pk=claim.pk)


@permission_required("run_lookups")
@require_POST
def payer_found(request: HttpRequest, pk: int) -> HttpResponse:
    claim = _load(request, pk)
    if payer_flow.found_at_payer(claim, request.POST.get("claim_id", ""), request.user):
        record_event(request, "change", claim, detail=f"payer claim id entered {claim.reference}")
        engine.kick()
        messages.success(request, "Looking the claim up at the payer; nothing is re-sent.")
    else:
        messages.error(request, "Enter the payer's claim id (one not used by another claim).")
    return redirect("payer:detail", pk=claim.pk)


@permission_required("run_lookups")
@require_GET
def payer_code(request: HttpRequest) -> HttpResponse:
    """The description next to a code as the biller types (HTMX)."""
    field = request.GET.get("field", "")
    code = request.GET.get(field, "") if field in ("diagnosis_code", "procedure_code") else ""
    code = "".join(code.split()).upper()
    if not code:
        text, ok = "", True
    elif field == "diagnosis_code":
        problem = medcodes.icd10cm_problem(code)
        ok = not problem
        text = codes.label("icd10cm", code) if ok else problem
    else:
        ok = medcodes.is_procedure_code(code)
        text = codes.label(procedure_code_set(code), code) if ok else medcodes.PROCEDURE_HELP
    return render(request, "payer/code.html", {"text": text, "ok": ok})


@permission_required("view_results")
@require_GET
def payer_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk row's page: its claim once the engine has made one, else the batch."""
    ticket = get_for_user(Ticket.objects.select_related("batch"), request.user, pk=pk,
                          kind=payer_flow.KIND)
    claim = PayerClaim.objects.filter(ticket=ticket).first()
    if claim is not None:
        return redirect("payer:detail", pk=claim.pk)
    return redirect("payer:batch_detail", pk=ticket.batch_id) if ticket.batch_id else \
        redirect("payer:list")
