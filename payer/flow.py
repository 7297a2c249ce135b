"""A payer claim from the form to a final answer: the engine's submit and poll steps, the
answers and webhook events applied to the claim, and the "outcome unknown" safeguards.

Why a claim is never sent twice without a person deciding: the HCMS API has no search
endpoint and no idempotency key, so after a POST whose outcome we do not know (a read
timeout, a dropped connection, a 5xx other than 503, an unreadable 2xx, or a worker that
died mid-send) we cannot ask the payer whether the claim exists. Re-sending could create a
second claim, and paying a claim twice is worse than a short delay. So such a claim stops
as "outcome unknown — not re-sent" until someone either enters the payer's claim id (we
then only look it up) or a manager confirms with the payer that nothing arrived and
re-sends. The claim's status "sending" is written *before* the POST: finding it still
"sending" on the next attempt means the earlier attempt may have reached the payer. This
is stricter than `ticket.attempts > 1`, which is also true after a connect timeout or a
503, where nothing was sent and a retry is safe.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from payer.client import ClaimAnswer, amount, day, error_details, get_claim, submit_claim
from payer.models import ClaimEvent, PayerClaim
from payer.service import PAYER_NAME
from revcycle import engine, errors, parse, schedules, services
from revcycle.csvio import lenient_get
from revcycle.models import Connection, Encounter, Facility, Ticket

log = logging.getLogger("payer.flow")
KIND = "payer_claim"
# The guide's poller looks every 30 s ("Polling for Status Updates"). Webhooks can fail
# silently (the payer gives up after 3 retries), so we poll whether or not a secret is set:
# every 30 s for the first 10 minutes under review, then every 10 minutes until final.
FAST_POLL_SECONDS = 30
FAST_POLL_FOR_SECONDS = 10 * 60
SLOW_POLL_SECONDS = 600
Status = PayerClaim.Status

UNKNOWN_MESSAGE = (
    "We sent this claim but did not get the payer's answer, so we do not know whether the "
    "payer has it. It was NOT sent again: the payer has no way to search for it. Check with "
    "the payer; then enter their claim id, or (managers) re-send it."
)


def poll_seconds(claim: PayerClaim, now: datetime | None = None) -> float:
    """When to look again at a claim under review (30 s, then 10 minutes)."""
    under_review_for = ((now or timezone.now()) - claim.status_changed_at).total_seconds()
    if claim.status != Status.UNDER_REVIEW or under_review_for < FAST_POLL_FOR_SECONDS:
        return float(FAST_POLL_SECONDS)
    return float(SLOW_POLL_SECONDS)


# --- creating ---------------------------------------------------------------------------


def find_duplicate(connection: Connection, body: dict[str, Any],
                   besides: int | None = None) -> PayerClaim | None:
    """A claim with the same body already sent (or on its way) to this payer."""
    digest = Ticket.hash_request(KIND, connection.pk, body)
    return (
        PayerClaim.objects.filter(connection=connection, ticket__request_hash=digest)
        .exclude(status=Status.ERROR)
        .exclude(pk=besides)
        .order_by("created_at", "id")
        .first()
    )


def create_claim(
    *,
    reference: str,
    facility: Facility,
    connection: Connection,
    encounter: Encounter | None,
    body: dict[str, Any],
    user: Any,
) -> tuple[PayerClaim, bool]:
    """Queue a claim; returns (claim, created). The same reference twice (a double click,
    a form posted again) returns the first claim instead of a second one."""
    existing = PayerClaim.objects.filter(reference=reference).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(
                kind=KIND,
                facility=facility,
                connection=connection,
                encounter=encounter,
                created_by=user,
                request=body,
                account_number=encounter.account_number if encounter else "",
                patient_name=body["patient_name"][:200],
                payer=PAYER_NAME,
                next_poll_at=timezone.now(),
            )
            claim = PayerClaim.objects.create(
                reference=reference,
                facility=facility,
                connection=connection,
                encounter=encounter,
                ticket=ticket,
                created_by=user,
                account_number=ticket.account_number,
                patient_name=ticket.patient_name,
                diagnosis_code=body["diagnosis_code"],
                procedure_code=body.get("procedure_code", ""),
                date_of_service=day(body.get("date_of_service")),
                priority=body.get("priority", ""),
                amount=amount(body["amount"]),
            )
            ClaimEvent.objects.create(
                claim=claim,
                status=Status.QUEUED,
                source=ClaimEvent.Source.FORM,
                message="Queued for sending.",
            )
    except IntegrityError:
        return PayerClaim.objects.get(reference=reference), False
    return claim, True


# --- applying what the payer said -------------------------------------------------------

ORDER = {
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.UNKNOWN: 2,
    Status.ERROR: 3,
    Status.UNDER_REVIEW: 4,
    Status.APPROVED: 5,
    Status.REJECTED: 5,
    Status.PAID: 6,
}


def _moves_forward(old: str, new: str) -> bool:
    """A late or out-of-order message (under_review after approved) never turns a claim back,
    and a final answer never becomes another (approved -> paid is the one step on)."""
    if old == new or (old in PayerClaim.DECIDED and not (old, new) == (Status.APPROVED,
                                                                       Status.PAID)):
        return False
    return ORDER.get(new, 0) >= ORDER.get(old, 0)


def is_conflict(old: str, new: str) -> bool:
    """The payer gave one final answer and now gives a different one (rejected after
    approved, approved after paid): a person must find out which is true."""
    return (old in PayerClaim.DECIDED and new in PayerClaim.DECIDED and old != new
            and (old, new) != (Status.APPROVED, Status.PAID))


def record_conflict(claim: PayerClaim, new: str, source: str, message: str) -> None:
    """Keep the claim as it is; write down what the payer said, for a person."""
    text = (f"The payer now says {new} ({message or 'no message'}), but the claim was already "
            f"{claim.status}. Kept {claim.status}; check with the payer.")[:500]
    claim.conflict = text
    claim.conflict_at = timezone.now()
    claim.save(update_fields=["conflict", "conflict_at", "updated_at"])
    ClaimEvent.objects.create(claim=claim, status=claim.status, source=source, message=text,
                              needs_person=True)


def _change(
    claim: PayerClaim, status: str, source: str, message: str, at: datetime | None = None
) -> bool:
    if is_conflict(claim.status, status):
        record_conflict(claim, status, source, message)
        return False
    if not _moves_forward(claim.status, status):
        return False
    claim.status = status
    claim.status_changed_at = timezone.now()
    ClaimEvent.objects.create(
        claim=claim, status=status, source=source, message=message[:500], at=at or timezone.now()
    )
    return True


def _summary(answer: ClaimAnswer) -> str:
    if answer.status == Status.APPROVED:
        return (
            f"Approved. Expected payment {answer.expected_payment}, patient "
            f"responsibility {answer.patient_responsibility}."
        )
    if answer.status == Status.UNDER_REVIEW:
        return f"Under review: {answer.review_reason or answer.coverage_message}"
    return f"Rejected: {answer.rejection_reason or answer.message}"


def apply_answer(claim_pk: int, answer: ClaimAnswer, source: str) -> bool:
    """Store a submit or GET answer on the claim; True if its status changed."""
    with transaction.atomic():
        claim = PayerClaim.objects.select_for_update().get(pk=claim_pk)
        changed = _change(claim, answer.status, source, _summary(answer))
        claim.claim_id = claim.claim_id or answer.claim_id
        claim.message = answer.message or claim.message
        claim.coverage_message = answer.coverage_message or claim.coverage_message
        if answer.status == Status.UNDER_REVIEW:
            claim.review_reason = answer.review_reason or claim.review_reason
            claim.estimated_review_time = (
                answer.estimated_review_time or claim.estimated_review_time
            )
            claim.reviewer_contact = answer.reviewer_contact or claim.reviewer_contact
        elif answer.status == Status.APPROVED and claim.status == Status.APPROVED:
            claim.expected_payment = answer.expected_payment or claim.expected_payment
            claim.patient_responsibility = (
                answer.patient_responsibility
                if answer.patient_responsibility is not None
                else claim.patient_responsibility
            )
        elif answer.status == Status.REJECTED:
            claim.rejection_reason = answer.rejection_reason or answer.message
        claim.response = answer.raw
        claim.http_status = answer.http_status or claim.http_status
        claim.save()
    return changed


def record_refusal(claim_pk: int, exc: errors.ApiError) -> None:
    """A 400/404: the payer's error, error code and suggestions, for the biller."""
    code, suggestions = error_details(exc)
    with transaction.atomic():
        claim = PayerClaim.objects.select_for_update().get(pk=claim_pk)
        _change(
            claim,
            Status.ERROR,
            ClaimEvent.Source.SUBMIT,
            f"Refused ({exc.status}{', ' + code if code else ''}): {exc.message}",
        )
        claim.message = exc.message[:500]
        claim.http_status = exc.status
        claim.error_code = code
        claim.suggestions = suggestions
        claim.response = exc.body if isinstance(exc.body, (dict, list)) else None
        claim.save()


def mark_unknown(claim_pk: int, why: str) -> None:
    with transaction.atomic():
        claim = PayerClaim.objects.select_for_update().get(pk=claim_pk)
        if claim.status != Status.UNKNOWN and _change(
            claim,
            Status.UNKNOWN,
            ClaimEvent.Source.SUBMIT,
            f"Outcome unknown ({why}); not re-sent.",
        ):
            claim.save()


def finish_ticket(claim: PayerClaim) -> None:
    """Close the claim's engine ticket after a webhook gave the final answer. Clearing the
    lease makes a poll in flight discard its own result (the engine saves as lease holder)."""
    if claim.ticket_id is None:
        return
    now = timezone.now()
    Ticket.objects.filter(pk=claim.ticket_id, state__in=Ticket.OPEN_STATES).update(
        state=Ticket.State.DONE,
        outcome=claim.status[:20],
        finished_at=now,
        ready_at=now,
        next_poll_at=None,
        lease_owner="",
        lease_until=None,
        updated_at=now,
        last_error="",
    )


SUBMITTED_EVENTS = ("submitted", "claim_submitted")
STATUS_EVENTS = ("claim_status_update", "status_update", "")
PAYMENT_EVENTS = ("payment_processed",)


def apply_event(claim: PayerClaim, payload: dict[str, Any]) -> bool:
    """One webhook event (guide: "Webhook Payload Structure", "Webhook Events Sent"). Call
    inside the transaction that records the delivery, with `claim` locked. True if the
    status changed. Unknown event types are written on the timeline and change nothing."""
    event_type = str(payload.get("event_type") or "").strip().lower()[:40]
    new_status = str(payload.get("new_status") or "").strip().lower()[:40]
    message = str(payload.get("message") or "")[:500]
    if event_type in PAYMENT_EVENTS:
        return apply_payment(claim, payload)
    if event_type in SUBMITTED_EVENTS or (event_type in STATUS_EVENTS
                                          and new_status == "submitted"):
        _note(claim, f"The payer confirmed it received the claim. {message}")
        return False
    if event_type not in STATUS_EVENTS:
        _note(claim, f"The payer sent an event we do not act on ({event_type}). {message}")
        return False
    if new_status not in (Status.APPROVED, Status.UNDER_REVIEW, Status.REJECTED, Status.PAID):
        _note(claim, f"Payer: {new_status or 'event'} {message}")
        return False
    changed = _change(claim, new_status, ClaimEvent.Source.WEBHOOK,
                      message or f"Payer set the claim to {new_status}.")
    if not changed:
        return False
    claim.message = message or claim.message
    claim.coverage_message = str(payload.get("coverage_message") or claim.coverage_message)[:500]
    payment = payload.get("payment_details")
    if new_status == Status.APPROVED and isinstance(payment, dict):
        claim.approved_amount = amount(payment.get("approved_amount"))
        claim.expected_payment = claim.approved_amount
        claim.patient_responsibility = amount(payment.get("patient_responsibility"))
        claim.expected_payment_date = day(payment.get("expected_payment_date"))
        claim.payment_method = str(payment.get("payment_method") or "")[:40]
    if new_status == Status.REJECTED:
        claim.rejection_reason = message
    claim.save()
    if claim.is_final:
        finish_ticket(claim)
    return True


def _note(claim: PayerClaim, text: str) -> None:
    ClaimEvent.objects.create(claim=claim, status=claim.status,
                              source=ClaimEvent.Source.WEBHOOK, message=text.strip()[:500])


def _first(data: dict[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if data.get(n) not in (None, "")), None)


def apply_payment(claim: PayerClaim, payload: dict[str, Any]) -> bool:
    """A payment_processed event (guide: "Webhook Registration" lists it; no shape is given,
    so the payment is read from `payment_details` or the event itself, leniently)."""
    details = payload.get("payment_details")
    data = {**payload, **details} if isinstance(details, dict) else payload
    paid = amount(_first(data, "paid_amount", "payment_amount", "amount_paid",
                         "approved_amount", "amount"))
    on = day(_first(data, "payment_date", "paid_date", "processed_date"))
    reference = str(_first(data, "payment_reference", "transaction_id", "reference") or "")
    if claim.status == Status.REJECTED:
        record_conflict(claim, Status.PAID, ClaimEvent.Source.WEBHOOK,
                        f"payment of {paid} processed")
        return False
    said = (f"Payment processed: {paid if paid is not None else 'amount not given'}"
            f"{' on ' + on.isoformat() if on else ''}"
            f"{' (' + reference[:100] + ')' if reference else ''}.")
    if claim.status == Status.PAID:
        _note(claim, f"Another payment event; the first one's details are kept. {said}")
        return False
    changed = _change(claim, Status.PAID, ClaimEvent.Source.WEBHOOK, said)
    claim.paid_amount = paid if paid is not None else claim.paid_amount
    claim.paid_on = on or claim.paid_on
    claim.payment_reference = reference[:100] or claim.payment_reference
    claim.payment_method = str(data.get("payment_method") or claim.payment_method)[:40]
    claim.save()
    if claim.is_final:
        finish_ticket(claim)
    return changed


# --- the engine's steps -----------------------------------------------------------------


def _claim_of(ticket: Ticket) -> PayerClaim:
    claim = PayerClaim.objects.select_related("connection").filter(ticket=ticket).first()
    return claim or claim_for_ticket(ticket)


def claim_for_ticket(ticket: Ticket) -> PayerClaim:
    """The claim of a bulk row: the batch machinery makes tickets in bulk, so the first
    step makes the claim (once: the ticket is one-to-one with it)."""
    body = ticket.request or {}
    try:
        with transaction.atomic():
            claim = PayerClaim.objects.create(
                facility_id=ticket.facility_id, connection_id=ticket.connection_id,
                encounter_id=ticket.encounter_id, ticket=ticket,
                created_by_id=ticket.created_by_id, account_number=ticket.account_number,
                patient_name=ticket.patient_name,
                diagnosis_code=str(body.get("diagnosis_code") or "")[:10],
                procedure_code=str(body.get("procedure_code") or "")[:10],
                date_of_service=day(body.get("date_of_service")),
                priority=str(body.get("priority") or "")[:10],
                amount=amount(body.get("amount")) or 0,
            )
            ClaimEvent.objects.create(
                claim=claim, status=Status.QUEUED, source=ClaimEvent.Source.FORM,
                message=f"Queued from a bulk upload (batch {ticket.batch_id}).")
    except IntegrityError:
        pass
    return PayerClaim.objects.select_related("connection").get(ticket=ticket)


def _duplicate_of_sent(claim: PayerClaim, ticket: Ticket) -> PayerClaim | None:
    """A bulk row identical to a claim already sent to this payer is not sent: the claim
    form stops the same claim for billers (payer.views._create)."""
    if ticket.batch_id is None or claim.status != Status.QUEUED:
        return None
    return find_duplicate(claim.connection, ticket.request or {}, besides=claim.pk)


def _refuse_duplicate(claim_pk: int, duplicate: PayerClaim) -> None:
    with transaction.atomic():
        claim = PayerClaim.objects.select_for_update().get(pk=claim_pk)
        text = (f"Not sent: identical to claim {duplicate.reference} "
                f"({duplicate.get_status_display()}) already sent to this payer.")
        _change(claim, Status.ERROR, ClaimEvent.Source.FORM, text)
        claim.message = text
        claim.error_code = "DUPLICATE_NOT_SENT"
        claim.save()


def _unsafe_to_retry(exc: errors.ApiError) -> bool:
    """True if the payer may have acted on our POST despite the error."""
    if isinstance(exc, (errors.UnknownOutcome, errors.BadResponse)):
        return True
    # A connect failure (no status) or a 503 means nothing was processed; any other 5xx
    # (500, 502, 504) may come after the payer created the claim.
    return isinstance(exc, errors.Unavailable) and exc.status not in (None, 503)


def submit(ticket: Ticket) -> engine.Step:
    claim = _claim_of(ticket)
    if claim.claim_id:
        # An earlier attempt got the claim id: never send again, only look it up.
        return engine.Submitted(claim.claim_id, poll_in=0)
    duplicate = _duplicate_of_sent(claim, ticket)
    if duplicate is not None:
        return engine.Done("error", store=lambda: _refuse_duplicate(claim.pk, duplicate))
    if claim.status == Status.ERROR:
        # "Check again" on a refused claim with no payer claim id: there is nothing to look
        # up, and sending the same body again would be refused again. It stays refused with
        # its error and HTTP status; a person corrects it and sends a new claim.
        return engine.Done(
            "error", response=claim.response, http_status=claim.http_status,
            store=lambda: _note_refused_again(claim.pk))
    if claim.status in (Status.SENDING, Status.UNKNOWN):
        mark_unknown(claim.pk, "an earlier attempt was cut off")
        return engine.Failed(UNKNOWN_MESSAGE, outcome="unknown")
    if not PayerClaim.objects.filter(pk=claim.pk, status=Status.QUEUED).update(
        status=Status.SENDING, updated_at=timezone.now()
    ):
        return engine.Failed(UNKNOWN_MESSAGE, outcome="unknown")
    try:
        answer = submit_claim(claim.connection, ticket.request, ticket_id=ticket.pk)
    except (errors.BadRequest, errors.NotFound, errors.Conflict) as exc:
        return engine.Done(
            "error",
            response=exc.body,
            http_status=exc.status,
            store=lambda e=exc: record_refusal(claim.pk, e),
        )
    except errors.ApiError as exc:
        if _unsafe_to_retry(exc):
            mark_unknown(claim.pk, exc.message)
            return engine.Failed(UNKNOWN_MESSAGE, http_status=exc.status, outcome="unknown")
        # Nothing reached the payer: back to the queue, and the engine retries.
        PayerClaim.objects.filter(pk=claim.pk, status=Status.SENDING).update(status=Status.QUEUED)
        raise
    # Keep the payer's id at once: whatever happens next, we only look the claim up.
    PayerClaim.objects.filter(pk=claim.pk).update(claim_id=answer.claim_id)
    if answer.status == Status.UNDER_REVIEW:
        apply_answer(claim.pk, answer, ClaimEvent.Source.SUBMIT)
        return engine.Submitted(
            answer.claim_id, http_status=answer.http_status, poll_in=FAST_POLL_SECONDS
        )
    return engine.Done(
        answer.status,
        response=answer.raw,
        http_status=answer.http_status,
        store=lambda: apply_answer(claim.pk, answer, ClaimEvent.Source.SUBMIT),
    )


def _note_refused_again(claim_pk: int) -> None:
    claim = PayerClaim.objects.get(pk=claim_pk)
    ClaimEvent.objects.create(
        claim=claim, status=claim.status, source=ClaimEvent.Source.PERSON,
        message=("Checked again: the payer refused this claim and gave it no claim id, so "
                 "there is nothing to look up and it was not re-sent. Use \"Correct and "
                 "resend\" to send a corrected copy."))


def poll(ticket: Ticket) -> engine.Step:
    claim = _claim_of(ticket)
    if claim.is_final:  # a webhook got here first
        return engine.Done(claim.status, response=claim.response)
    answer = get_claim(claim.connection, claim.claim_id or ticket.remote_id, ticket_id=ticket.pk)
    if answer.status == Status.UNDER_REVIEW:
        apply_answer(claim.pk, answer, ClaimEvent.Source.POLL)
        claim.refresh_from_db(fields=["status", "status_changed_at"])
        return engine.Pending(answer.http_status, retry_after=poll_seconds(claim))
    return engine.Done(
        answer.status,
        response=answer.raw,
        http_status=answer.http_status,
        store=lambda: apply_answer(claim.pk, answer, ClaimEvent.Source.POLL),
    )


# --- what people do about an unknown outcome -------------------------------------------


def confirm_resend(claim: PayerClaim, user: Any) -> bool:
    """A manager checked with the payer that the claim did not arrive: send it again."""
    with transaction.atomic():
        locked = PayerClaim.objects.select_for_update().get(pk=claim.pk)
        if locked.status != Status.UNKNOWN or locked.claim_id:
            return False
        locked.status = Status.QUEUED
        locked.resend_confirmed_by = user
        locked.resend_confirmed_at = timezone.now()
        locked.save()
        ClaimEvent.objects.create(
            claim=locked,
            status=Status.QUEUED,
            source=ClaimEvent.Source.PERSON,
            message=f"{user.username} checked with the payer and re-sent.",
        )
    return engine.check_again(locked.ticket) if locked.ticket else False


def found_at_payer(claim: PayerClaim, claim_id: str, user: Any) -> bool:
    """The payer told us the claim's id: look it up instead of sending it again."""
    claim_id = claim_id.strip()[:100]
    with transaction.atomic():
        locked = PayerClaim.objects.select_for_update().get(pk=claim.pk)
        if locked.status != Status.UNKNOWN or not claim_id:
            return False
        if (
            PayerClaim.objects.filter(connection=locked.connection, claim_id=claim_id)
            .exclude(pk=locked.pk)
            .exists()
        ):
            return False
        locked.claim_id = claim_id
        locked.save()
        ClaimEvent.objects.create(
            claim=locked,
            status=locked.status,
            source=ClaimEvent.Source.PERSON,
            message=f"{user.username} entered the payer's claim id; looking it up.",
        )
    return engine.check_again(locked.ticket) if locked.ticket else False


def summary(request: dict[str, Any]) -> services.Summary:
    return services.Summary(
        amount=parse.amount(lenient_get(request, "amount", default=None)),
        service_date=parse.day(lenient_get(request, "date_of_service", default=None)),
    )


# Registered from PayerConfig.ready().
def detail_url(ticket: Ticket) -> str:
    claim = PayerClaim.objects.filter(ticket=ticket).values_list("pk", flat=True).first()
    return reverse("payer:detail", args=[claim]) if claim else ""


ADVICE = {
    Status.UNDER_REVIEW: "The payer is reviewing the claim (24-48 hours); revcycle checks "
                         "again by itself.",
    Status.APPROVED: "The payer approved the claim: post the payment when it arrives.",
    Status.REJECTED: "The payer rejected the claim: read its reason on the claim page, then "
                     "correct the claim and submit it again, or appeal.",
    Status.ERROR: "The payer refused the claim before reviewing it: the claim page lists each "
                  "field it refused; correct them and submit the claim again.",
    Status.UNKNOWN: "The payer may have this claim already: do not submit it again; check it "
                    "at the payer first.",
}
TICKET_KIND = services.TicketKind(
    name=KIND, service="payer", label="Payer claim", summary=summary,
    outcome_labels=dict(Status.choices), outcome_advice=ADVICE,
    default_advice="Open the claim to see what the payer said.", detail_url=detail_url)
# Registered from PayerConfig.ready().
ENGINE_KIND = engine.Kind(
    name=KIND, label="Payer claim", service="payer",
    submit=submit, poll=poll, default_interval=30,
    # Reviews take "24-48 hours" (guide); keep polling a claim for up to 14 days.
    max_age_seconds=14 * 24 * 3600,
)
PRUNE_WEBHOOKS = schedules.Recurring("payer claims: forget old refused webhooks",
                                     "payer.tasks.prune_webhook_deliveries", 24 * 60)
