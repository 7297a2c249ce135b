"""Posting an invoice to Smart and following it until Smart marks it Billed (sections 5-7).

The post is a ticket of the shared engine: `submit` posts the invoice, `poll` reads its
status until Billed or Cancelled. An invoice must never exist twice at Smart: once a post
may have been sent (the invoice's `sent_at` is set before sending, and the engine counts
attempts before each submit), the next attempt looks the invoice up by number first, for
a few minutes (Smart may answer 404 for a while after storing), and any 409 on a re-post
means the first post arrived. Until Smart's answer is known the invoice counts as posted:
it blocks a second invoice on its visit and benefit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import timezone

from revcycle import engine, errors, services
from revcycle.models import Ticket
from smartlink import client
from smartlink.models import SmartBenefit, SmartFacility, SmartInvoice, SmartSession

KIND = "smart_invoice_status"
# Smart bills within hours, not seconds: poll at the connection's interval at first, then
# less and less often, up to every half hour.
MAX_POLL_WAIT = 1800


NO_DIAGNOSIS = ("Add the diagnosis: every invoice to Smart carries its diagnosis, and {facility} "
                "has no arrangement with Smart to send it after the visit.")


class InvoiceProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def create_invoice(*, session: SmartSession, benefit: SmartBenefit, invoice_number: str,
                   lines: list[dict[str, Any]], diagnoses: list[dict[str, str]],
                   copay_amount: Decimal, copay_from_smart: bool, user: Any,
                   override_reason: str = "") -> SmartInvoice:
    """Record the invoice and queue its post. The caller checked duplicates and permission.
    Every invoice carries its diagnosis unless the facility has the late-diagnosis
    arrangement (section 7): refused here, before anything is sent."""
    if not diagnoses and not SmartFacility.for_facility(session.facility).late_diagnosis:
        raise InvoiceProblem(NO_DIAGNOSIS.format(facility=session.facility.name))
    total = sum((Decimal(str(line["amount"])) for line in lines), Decimal("0"))
    provider_key = SmartFacility.for_facility(session.facility).provider_key
    member = session.member
    with transaction.atomic():
        invoice = SmartInvoice.objects.create(
            connection=session.connection, facility=session.facility, session=session,
            invoice_number=invoice_number, visit_number=session.visit_number,
            patient_number=session.patient_number, member_number=member.member_number,
            smart_benefit=benefit, benefit_id=benefit.benefit_id, benefit_name=benefit.name,
            benefit_balance=benefit.balance, lines=lines, diagnoses=diagnoses,
            total_amount=total, copay_amount=copay_amount, copay_from_smart=copay_from_smart,
            diagnosis_pending=not diagnoses, override_reason=override_reason, created_by=user,
        )
        ticket = Ticket.objects.create(
            kind=KIND, facility=session.facility, connection=session.connection,
            encounter=session.encounter, created_by=user,
            request={"invoice_id": invoice.pk,
                     "body": invoice.claim_body(provider_key)},
            account_number=session.visit_number, patient_name=member.name,
            payer=member.insurer or "Smart", next_poll_at=timezone.now(),
            # The request holds the invoice under "body": the totals are the domain's to say.
            amount=total, service_date=invoice.invoice_date,
        )
        invoice.ticket = ticket
        invoice.save(update_fields=["ticket"])
        invoice.log("created", f"Invoice {invoice_number}: {len(lines)} line(s), total "
                    f"{total}, co-pay {copay_amount}, {len(diagnoses)} diagnosis(es).", user=user)
        if override_reason:
            invoice.log("duplicate override", f"Second invoice on visit {session.visit_number} "
                        f"benefit {benefit.benefit_id} allowed: {override_reason}", user=user)
    return invoice


def _invoice(ticket: Ticket) -> SmartInvoice:
    return SmartInvoice.objects.select_related("session", "connection").get(ticket=ticket)


def _lookup(invoice: SmartInvoice, ticket_id: int | None = None) -> client.ClaimStatus:
    return client.claim_status(invoice.connection, invoice.invoice_number, invoice.member_number,
                               invoice.session.session_id, invoice.visit_number, ticket_id)


def _record_status(invoice: SmartInvoice, found: client.ClaimStatus) -> None:
    """Save what Smart says; idempotent, so a step that runs twice changes nothing more."""
    now = timezone.now()
    values: dict[str, Any] = {"last_checked_at": now, "last_error": ""}
    new = found.plain
    if invoice.status != new:
        values["status"] = new
        if new == SmartInvoice.Status.BILLED:
            values["billed_at"] = now
    if not invoice.posted_at:
        values["posted_at"] = invoice.sent_at or now
    if found.claim_id and not invoice.smart_claim_id:
        values["smart_claim_id"] = found.claim_id
    SmartInvoice.objects.filter(pk=invoice.pk).update(**values)
    if "status" in values:
        invoice.log("status", f"Smart: {found.status}.")
    for key, value in values.items():
        setattr(invoice, key, value)


def _step_for(invoice: SmartInvoice, found: client.ClaimStatus, ticket: Ticket) -> engine.Step:
    if found.plain in (SmartInvoice.Status.BILLED, SmartInvoice.Status.CANCELLED):
        return engine.Done(found.plain, response=found.raw, http_status=200,
                           store=lambda: _record_status(invoice, found))
    _record_status(invoice, found)
    wait = min(engine.interval_for(ticket) * (2 ** min(ticket.polls, 8)), MAX_POLL_WAIT)
    return engine.Pending(http_status=200, retry_after=wait)


def _already_sent(invoice: SmartInvoice, ticket: Ticket) -> bool:
    """Anything that may have reached Smart (a "check again" resets attempts to 0)."""
    return (invoice.sent_at is not None or invoice.posted_at is not None
            or invoice.status != SmartInvoice.Status.QUEUED or ticket.attempts > 1)


def lookup_window() -> float:
    """Seconds after a post during which Smart's 404 on the invoice means "not listed
    yet", not "never stored" (Smart stores first and indexes later)."""
    return float(getattr(settings, "SMART_LOOKUP_WINDOW_SECONDS", 300))


def _still_looking(invoice: SmartInvoice) -> float:
    """Seconds left of the lookup window since the last post was sent (0: it is over)."""
    if invoice.sent_at is None:
        return 0.0
    left = (invoice.sent_at + timedelta(seconds=lookup_window()) - timezone.now())
    return max(left.total_seconds(), 0.0)


def _not_listed_yet(invoice: SmartInvoice, left: float, exc: errors.ApiError) -> errors.ApiError:
    """A retryable error: the engine's scheduling looks again later (no sleeping here)."""
    wait = max(min(left, lookup_window() / 5), 1.0)
    invoice.log("not listed yet", f"Smart does not list invoice {invoice.invoice_number} yet "
                f"({exc.message}); looking again in {wait:.0f} s.", raw=exc.body)
    return errors.Unavailable(
        f"Smart does not list invoice {invoice.invoice_number} yet; it may have stored it. "
        f"Looking again in {wait:.0f} s, before anything is posted again.",
        status=exc.status, retry_after=wait)


def _found_already(invoice: SmartInvoice, found: client.ClaimStatus,
                   ticket: Ticket) -> engine.Step:
    invoice.log("checked before re-post", f"Smart already has it ({found.status}); "
                "not posted again.", raw=found.raw)
    step = _step_for(invoice, found, ticket)
    return engine.Submitted(invoice.invoice_number, 200) if isinstance(
        step, engine.Pending) else step


def submit(ticket: Ticket) -> engine.Step:
    """Post the invoice, unless an earlier attempt may have posted it: then look it up by
    number, again and again over the lookup window, before posting it once more."""
    invoice = _invoice(ticket)
    if invoice.is_final:
        return engine.Done(invoice.status, http_status=None)
    maybe_sent = _already_sent(invoice, ticket)
    if maybe_sent:
        try:
            found = _lookup(invoice, ticket.pk)
        except errors.NotFound as exc:
            if invoice.posted_at:
                return engine.Failed(
                    f"Smart no longer finds invoice {invoice.invoice_number}, which it said "
                    "it had. Call Smart before posting anything again.", http_status=404)
            left = _still_looking(invoice)
            if left > 0:
                raise _not_listed_yet(invoice, left, exc) from exc
            invoice.log("checked before re-post", "Smart still has no such invoice after "
                        f"{lookup_window() / 60:.0f} min of looking: posting it again.")
        else:
            return _found_already(invoice, found, ticket)
    return _post(invoice, ticket, after_unknown=maybe_sent)


def _post(invoice: SmartInvoice, ticket: Ticket, *, after_unknown: bool) -> engine.Step:
    now = timezone.now()
    SmartInvoice.objects.filter(pk=invoice.pk).update(sent_at=now)
    invoice.sent_at = now
    body = ticket.request["body"]
    try:
        claim_id = client.post_claim(invoice.connection, invoice.patient_number,
                                     invoice.session.session_id, body, ticket.pk)
    except errors.UnknownOutcome as exc:
        SmartInvoice.objects.filter(pk=invoice.pk).update(
            status=SmartInvoice.Status.UNKNOWN,
            last_error=f"{exc.message} Smart is asked for the invoice before any re-post; "
                       "until then it counts as posted.")
        invoice.log("post unknown", f"{exc.message} Will look it up before re-posting.")
        raise
    except (errors.Conflict, errors.BadRequest, errors.NotFound) as exc:
        return _after_refusal(invoice, ticket, exc, after_unknown=after_unknown)
    _mark_posted(invoice, claim_id)
    invoice.log("posted", f"Smart accepted invoice {invoice.invoice_number}"
                + (f" (claim {claim_id})." if claim_id else "."))
    return engine.Submitted(claim_id or invoice.invoice_number, 201)


def _after_refusal(invoice: SmartInvoice, ticket: Ticket, exc: errors.ApiError, *,
                   after_unknown: bool) -> engine.Step:
    """A 4xx on the post. A 409 says only that something conflicts (PITFALLS.md), and a
    re-post may be refused because the first one arrived: ask Smart for the invoice before
    calling it refused. Any 409 on a re-post means Smart has it, listed or not yet."""
    if after_unknown or isinstance(exc, errors.Conflict):
        try:
            found = _lookup(invoice, ticket.pk)
        except errors.NotFound:
            found = None
        if found is not None:
            return _found_already(invoice, found, ticket)
        if after_unknown and isinstance(exc, errors.Conflict):
            SmartInvoice.objects.filter(pk=invoice.pk).update(
                posted_at=invoice.posted_at or invoice.sent_at or timezone.now(),
                last_error=f"Smart says it has this invoice already (HTTP 409: {exc.message}). "
                           "Following its status; it counts as posted.")
            invoice.log("smart has it", f"Re-post answered HTTP 409 ({exc.message}): the "
                        "earlier post arrived. Not posted again; watching its status.",
                        raw=exc.body)
            return engine.Submitted(invoice.invoice_number, exc.status)
    _refuse(invoice, exc)
    raise exc


def _mark_posted(invoice: SmartInvoice, claim_id: str) -> None:
    values: dict[str, Any] = {"status": SmartInvoice.Status.PENDING, "last_error": "",
                              "posted_at": invoice.posted_at or timezone.now()}
    if claim_id:
        values["smart_claim_id"] = claim_id
    SmartInvoice.objects.filter(pk=invoice.pk).update(**values)


def _refuse(invoice: SmartInvoice, exc: errors.ApiError) -> None:
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        status=SmartInvoice.Status.REFUSED, last_error=f"Smart refused the invoice: {exc.message}")
    invoice.log("refused", f"Smart answered HTTP {exc.status}: {exc.message}", raw=exc.body)


def poll(ticket: Ticket) -> engine.Step:
    """Read the invoice's status (section 6) until Smart says Billed or Cancelled. A 404
    within the lookup window means "not listed yet"; after it, a person must call Smart
    (the invoice keeps blocking a second one on its visit and benefit)."""
    invoice = _invoice(ticket)
    try:
        found = _lookup(invoice, ticket.pk)
    except errors.NotFound as exc:
        left = _still_looking(invoice)
        if left > 0:
            raise _not_listed_yet(invoice, left, exc) from exc
        invoice.log("not listed", f"Smart still does not list invoice {invoice.invoice_number}: "
                    f"{exc.message}", raw=exc.body)
        return engine.Failed(
            f"Smart still does not list invoice {invoice.invoice_number} "
            f"{lookup_window() / 60:.0f} min after it was sent ({exc.message}). Call Smart; "
            "do not post it again.", http_status=404)
    return _step_for(invoice, found, ticket)


# Registered from SmartlinkConfig.ready().
ENGINE_KIND = engine.Kind(name=KIND, label="Smart invoice", service="smart",
                          submit=submit, poll=poll, default_interval=15)
# The request wraps the invoice body; the list columns are set when the ticket is made.
def detail_url(ticket: Ticket) -> str:
    invoice = SmartInvoice.objects.filter(ticket=ticket).values_list("pk", flat=True).first()
    return reverse("smartlink:invoice", args=[invoice]) if invoice else ""


_S = SmartInvoice.Status
ADVICE = {
    _S.BILLED: "Smart has billed the invoice to the scheme: nothing left to do here.",
    _S.CANCELLED: "Smart cancelled the invoice: ask the scheme why, then post a corrected "
                  "invoice from the visit.",
    _S.REFUSED: "Smart refused the invoice: read its reason on the invoice page, correct the "
                "visit's invoice and post it again.",
    _S.PENDING: "Smart has the invoice and has not billed it yet; revcycle checks again.",
    _S.UNKNOWN: "Smart may already have this invoice: revcycle looks it up before anything "
                "is posted again.",
}
TICKET_KIND = services.TicketKind(
    name=KIND, service="smart", label="Smart invoice", outcome_labels=dict(_S.choices),
    outcome_advice=ADVICE, default_advice="Open the invoice to see what Smart said.",
    detail_url=detail_url)


def check_now(invoice: SmartInvoice, user: Any = None) -> bool:
    """Queue a status check (never a re-post of a posted invoice: submit looks first)."""
    ticket = invoice.ticket
    if ticket is None or invoice.status == SmartInvoice.Status.REFUSED:
        return False
    requeued = engine.check_again(ticket) or bool(
        Ticket.objects.filter(pk=ticket.pk, state__in=Ticket.OPEN_STATES)
        .update(next_poll_at=timezone.now()))
    if requeued and user is not None:
        invoice.log("check requested", "Status check requested.", user=user)
    return requeued


def requeue_open() -> int:
    """The background check: every invoice not final whose ticket has stopped gets checked."""
    count = 0
    stale = (SmartInvoice.objects.not_final().filter(ticket__isnull=False)
             .exclude(ticket__state__in=Ticket.OPEN_STATES).select_related("ticket"))
    for invoice in stale:
        count += engine.check_again(invoice.ticket)
    return count


def expire_lapsed_sessions(now: Any = None) -> int:
    lapsed = list(SmartSession.objects.lapsed(now))
    for session in lapsed:
        session.mark_expired()
    return len(lapsed)


def _not_for_billed(invoice: SmartInvoice, what: str) -> None:
    if invoice.status in (SmartInvoice.Status.BILLED, SmartInvoice.Status.REFUSED):
        raise InvoiceProblem(f"Invoice {invoice.invoice_number} is "
                             f"{invoice.get_status_display().lower()}: no {what} is needed.")


def record_not_billed_reason(invoice: SmartInvoice, reason: str, user: Any) -> None:
    _not_for_billed(invoice, "reason for not billing")
    invoice.not_billed_reason = reason
    invoice.not_billed_reason_by = user
    invoice.not_billed_reason_at = timezone.now()
    invoice.save(update_fields=["not_billed_reason", "not_billed_reason_by",
                                "not_billed_reason_at"])
    invoice.log("reason recorded", reason, user=user)


def send_late_diagnosis(invoice: SmartInvoice, diagnoses: list[dict[str, str]], user: Any) -> None:
    """Section 7: only for facilities with the arrangement; raises InvoiceProblem otherwise."""
    _not_for_billed(invoice, "late diagnosis")
    arrangements = SmartFacility.for_facility(invoice.facility)
    if not arrangements.late_diagnosis:
        raise InvoiceProblem(
            f"{invoice.facility.name} has no arrangement with Smart for late diagnoses: every "
            "invoice must carry its diagnosis. Ask Smart to cancel the invoice and post a new "
            "one with the diagnosis, or arrange late diagnoses with Smart.")
    if invoice.posted_at is None:
        raise InvoiceProblem("Smart has not confirmed this invoice yet; send the diagnosis "
                             "once it shows as Pending or Billed.")
    body = {"invoiceNumber": invoice.invoice_number, "memberNumber": invoice.member_number,
            "visitNumber": invoice.visit_number, "sessionId": invoice.session.session_id,
            "patientNumber": invoice.patient_number,
            "providerKey": arrangements.provider_key, "diagnoses": diagnoses}
    try:
        client.send_diagnosis(invoice.connection, body)
    except errors.UnknownOutcome as exc:
        invoice.log("diagnosis unknown", "Smart did not answer in time; check with Smart before "
                    "sending again.", user=user)
        raise InvoiceProblem(exc.message + " Check with Smart before sending it again.") from exc
    except errors.ApiError as exc:
        invoice.log("diagnosis refused", f"Smart: {exc.message}", user=user)
        raise InvoiceProblem(f"Smart refused the diagnosis: {exc.message}") from exc
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        diagnoses=[*invoice.diagnoses, *diagnoses], diagnosis_pending=False,
        diagnosis_sent_at=timezone.now())
    codes = ", ".join(d["code"] for d in diagnoses)
    invoice.log("late diagnosis sent", f"Diagnosis {codes} sent after the visit.", user=user)


def amount_at_risk(queryset: Any) -> Decimal:
    total = queryset.aggregate(t=Sum(F("total_amount") - F("copay_amount")))["t"]
    return (total or Decimal("0")).quantize(Decimal("0.01"))
