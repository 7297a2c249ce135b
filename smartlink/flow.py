"""Posting an invoice to Smart and following it until Smart marks it Billed (sections 5-7).

The post is a ticket of the shared engine: `submit` posts the invoice, `poll` reads its
status until Billed or Cancelled. An invoice must never exist twice at Smart: once a post
may have been sent (the invoice's `sent_at` is set before sending, and the engine counts
attempts before each submit), the next attempt looks the invoice up by number first, and
a 409 "duplicate invoice" after an unknown outcome means the first post arrived."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from revcycle import engine, errors, services
from revcycle.models import Ticket
from smartlink import client
from smartlink.models import SmartBenefit, SmartFacility, SmartInvoice, SmartSession

KIND = "smart_invoice_status"
# Smart bills within hours, not seconds: poll at the connection's interval at first, then
# less and less often, up to every half hour.
MAX_POLL_WAIT = 1800


class InvoiceProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def create_invoice(*, session: SmartSession, benefit: SmartBenefit, invoice_number: str,
                   lines: list[dict[str, Any]], diagnoses: list[dict[str, str]],
                   copay_amount: Decimal, copay_from_smart: bool, user: Any,
                   override_reason: str = "") -> SmartInvoice:
    """Record the invoice and queue its post. The caller checked duplicates and permission."""
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


def submit(ticket: Ticket) -> engine.Step:
    """Post the invoice, unless an earlier attempt may have posted it: then look first."""
    invoice = _invoice(ticket)
    if invoice.is_final:
        return engine.Done(invoice.status, http_status=None)
    maybe_sent = _already_sent(invoice, ticket)
    if maybe_sent:
        try:
            found = _lookup(invoice, ticket.pk)
        except errors.NotFound:
            if invoice.posted_at:
                return engine.Failed(
                    f"Smart no longer finds invoice {invoice.invoice_number}, which it had "
                    "accepted. Call Smart before posting anything again.", http_status=404)
            invoice.log("checked before re-post", "Smart has no such invoice: posting it.")
        else:
            invoice.log("checked before re-post", f"Smart already has it ({found.status}); "
                        "not posted again.")
            step = _step_for(invoice, found, ticket)
            return engine.Submitted(invoice.invoice_number, 200) if isinstance(
                step, engine.Pending) else step
    return _post(invoice, ticket, after_unknown=maybe_sent)


def _post(invoice: SmartInvoice, ticket: Ticket, *, after_unknown: bool) -> engine.Step:
    now = timezone.now()
    SmartInvoice.objects.filter(pk=invoice.pk).update(sent_at=now)
    invoice.sent_at = now
    body = ticket.request["body"]
    try:
        claim_id = client.post_claim(invoice.connection, invoice.patient_number,
                                     invoice.session.session_id, body, ticket.pk)
    except errors.UnknownOutcome:
        SmartInvoice.objects.filter(pk=invoice.pk).update(
            status=SmartInvoice.Status.UNKNOWN,
            last_error="The post timed out; its status will be checked before any re-post.")
        invoice.log("post unknown", "No answer from Smart in time; will check before re-posting.")
        raise
    except errors.Conflict as exc:
        if after_unknown and "duplicate" in exc.message.lower():
            invoice.log("posted", "Smart answered 'duplicate invoice': the earlier post arrived.")
            _mark_posted(invoice, "")
            return engine.Submitted(invoice.invoice_number, exc.status)
        _refuse(invoice, exc)
        raise
    except (errors.BadRequest, errors.NotFound) as exc:
        _refuse(invoice, exc)
        raise
    _mark_posted(invoice, claim_id)
    invoice.log("posted", f"Smart accepted invoice {invoice.invoice_number}"
                + (f" (claim {claim_id})." if claim_id else "."))
    return engine.Submitted(claim_id or invoice.invoice_number, 201)


def _mark_posted(invoice: SmartInvoice, claim_id: str) -> None:
    values: dict[str, Any] = {"status": SmartInvoice.Status.PENDING, "last_error": "",
                              "posted_at": invoice.posted_at or timezone.now()}
    if claim_id:
        values["smart_claim_id"] = claim_id
    SmartInvoice.objects.filter(pk=invoice.pk).update(**values)


def _refuse(invoice: SmartInvoice, exc: errors.ApiError) -> None:
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        status=SmartInvoice.Status.REFUSED, last_error=f"Smart refused the invoice: {exc.message}")
    invoice.log("refused", f"Smart answered HTTP {exc.status}: {exc.message}")


def poll(ticket: Ticket) -> engine.Step:
    """Read the invoice's status (section 6) until Smart says Billed or Cancelled."""
    invoice = _invoice(ticket)
    return _step_for(invoice, _lookup(invoice, ticket.pk), ticket)


# Registered from SmartlinkConfig.ready().
ENGINE_KIND = engine.Kind(name=KIND, label="Smart invoice", service="smart",
                          submit=submit, poll=poll, default_interval=15)
# The request wraps the invoice body; the list columns are set when the ticket is made.
TICKET_KIND = services.TicketKind(name=KIND, service="smart")


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


def requeue_open(now: Any = None) -> int:
    """The background check: every invoice not final whose ticket has stopped gets checked."""
    now = now or timezone.now()
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


def record_not_billed_reason(invoice: SmartInvoice, reason: str, user: Any) -> None:
    invoice.not_billed_reason = reason
    invoice.not_billed_reason_by = user
    invoice.not_billed_reason_at = timezone.now()
    invoice.save(update_fields=["not_billed_reason", "not_billed_reason_by",
                                "not_billed_reason_at"])
    invoice.log("reason recorded", reason, user=user)


def send_late_diagnosis(invoice: SmartInvoice, diagnoses: list[dict[str, str]], user: Any) -> None:
    """Section 7: only for facilities with the arrangement; raises InvoiceProblem otherwise."""
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
