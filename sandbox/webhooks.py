"""The payer stand-in's side of webhooks: finish reviews whose delay has passed, queue a
signed claim_status_update event, and POST it with retries (3, exponential backoff).

Under the strict profile (knob `profile`), events are signed over the raw body only (no
timestamp, no body field), and an approval is followed by a `payment_processed` event.

`deliver_due_webhooks()` and `settle_due_claims()` are synchronous, so tests call them
directly; in a running server a daemon thread (`ensure_worker()`) calls them about once a
second while there is work, and stops when there is none, or when `stop_worker()` asks
(a test that served it, so that no thread outlives the test's database).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sandbox.knobs import knob
from sandbox.models import PayerClaim, PayerWebhook, WebhookDelivery
from sandbox.signing import sign_body, sign_header, sign_raw

log = logging.getLogger(__name__)

MAX_RETRIES = 3  # after the first attempt (payer guide, "Webhook Retry Logic")
REJECT_ABOVE = Decimal("10000")  # reviews reject claims over this amount
LEASE_SECONDS = 60  # a delivery being sent is hidden from other threads this long
TIMEOUT = (3.05, 10)  # connect, read


def iso_utc(moment: Any) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def decide(claim: PayerClaim) -> tuple[str, str]:
    if claim.amount > REJECT_ABOVE:
        return (PayerClaim.Status.REJECTED,
                f"Claim rejected after review: amount over {REJECT_ABOVE} for an excluded "
                "procedure")
    return PayerClaim.Status.APPROVED, "Claim approved after validation"


def settle_claim(claim: PayerClaim) -> bool:
    """Finish the review of one claim if its delay has passed; True if this call did."""
    if claim.status != PayerClaim.Status.UNDER_REVIEW or claim.review_due_at is None \
            or claim.review_due_at > timezone.now():
        return False
    new_status, message = decide(claim)
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: the worker thread and a GET may race; only one settles.
        won = PayerClaim.objects.filter(pk=claim.pk, status=PayerClaim.Status.UNDER_REVIEW
                                        ).update(status=new_status, decision_message=message,
                                                 processed_at=now,
                                                 coverage_validated=new_status == "approved")
        if not won:
            claim.refresh_from_db()
            return False
        claim.refresh_from_db()
        queue_status_update(claim, PayerClaim.Status.UNDER_REVIEW)
        if claim.status == PayerClaim.Status.APPROVED:
            queue_payment(claim)
    log.info("sandbox payer: claim %s settled as %s", claim.claim_id, claim.status)
    return True


def settle_due_claims() -> int:
    return sum(settle_claim(c) for c in PayerClaim.objects.review_due())


def status_update_payload(claim: PayerClaim, previous_status: str, event_id: str
                          ) -> dict[str, Any]:
    """The guide's claim_status_update payload, without webhook_signature."""
    approved = claim.status == PayerClaim.Status.APPROVED
    expected = (claim.amount * Decimal("0.8")).quantize(Decimal("0.01"))
    processed = claim.processed_at or timezone.now()
    return {
        "event_type": "claim_status_update",
        "event_id": event_id,
        "timestamp": iso_utc(timezone.now()),
        "claim_id": claim.claim_id,
        "previous_status": previous_status,
        "new_status": claim.status,
        "message": claim.decision_message,
        "processed_by": "claims_reviewer",
        "processed_date": iso_utc(processed),
        "patient_name": claim.payload.get("patient_name", ""),
        "insurance_id": claim.payload.get("insurance_id", ""),
        "provider_id": claim.provider_id,
        "amount": float(claim.amount),
        "coverage_validated": claim.coverage_validated,
        "coverage_message": claim.coverage_message,
        "auto_approved": claim.auto_approved,
        # "Payment information (when approved)": null for a rejection.
        "payment_details": {
            "approved_amount": float(expected),
            "patient_responsibility": float(claim.amount - expected),
            "expected_payment_date": (timezone.localdate(processed) + timedelta(days=7))
            .isoformat(),
            "payment_method": "ACH",
        } if approved else None,
    }


def strict() -> bool:
    """The strict profile, read where no request is at hand (store, then settings)."""
    return knob("profile") == "strict"


def payment_payload(claim: PayerClaim, event_id: str) -> dict[str, Any]:
    """A payment_processed event (the guide lists the event, not its shape): this one."""
    paid = (claim.amount * Decimal("0.8")).quantize(Decimal("0.01"))
    return {
        "event_type": "payment_processed", "event_id": event_id,
        "timestamp": iso_utc(timezone.now()), "claim_id": claim.claim_id,
        "payment_details": {"paid_amount": str(paid),
                            "payment_date": timezone.localdate().isoformat(),
                            "payment_reference": f"ACH-{event_id[:8].upper()}",
                            "payment_method": "ACH"},
    }


def queue_payment(claim: PayerClaim) -> WebhookDelivery | None:
    """Strict profile only: the payment follows the approval."""
    if not strict():
        return None
    return _queue(claim, lambda event_id: payment_payload(claim, event_id))


def queue_status_update(claim: PayerClaim, previous_status: str) -> WebhookDelivery | None:
    """Queue the event for the provider's registered webhook, if there is one."""
    return _queue(claim, lambda event_id: status_update_payload(claim, previous_status,
                                                                event_id))


def _queue(claim: PayerClaim, build: Any) -> WebhookDelivery | None:
    hook = PayerWebhook.objects.filter(provider_id=claim.provider_id, active=True).first()
    if hook is None:
        return None
    delivery = WebhookDelivery(claim=claim, provider_id=claim.provider_id, url=hook.webhook_url)
    payload = build(str(delivery.event_id))
    if not strict():
        payload["webhook_signature"] = sign_body(hook.secret, payload)
    # Fixed now, so every retry sends the same bytes.
    delivery.body = json.dumps(payload, separators=(",", ":"))
    delivery.save()
    return delivery


def deliver(delivery: WebhookDelivery) -> bool:
    """POST one delivery and record the outcome; True when the receiver answered 2xx."""
    hook = PayerWebhook.objects.filter(provider_id=delivery.provider_id).first()
    now = timezone.now()
    if hook is None:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.last_error = "the provider's webhook registration is gone"
        delivery.save(update_fields=["status", "last_error"])
        return False
    raw = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "HCMS-Payor-Sandbox/1.0",
        "X-Webhook-Event": str(json.loads(raw).get("event_type", "")),
        "X-Webhook-Id": str(delivery.event_id),
    }
    if strict():
        headers["X-Webhook-Signature"] = sign_raw(hook.secret, raw)
    else:
        timestamp = int(time.time())
        headers["X-Webhook-Timestamp"] = str(timestamp)
        headers["X-Webhook-Signature"] = sign_header(hook.secret, timestamp, raw)
    delivery.attempts += 1
    try:
        response = requests.post(delivery.url, data=raw, headers=headers, timeout=TIMEOUT)
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok = False
        delivery.last_status_code = None
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
    elif delivery.attempts > MAX_RETRIES:
        delivery.status = WebhookDelivery.Status.FAILED
        log.warning("sandbox payer: webhook %s for %s failed after %d attempts: %s",
                    delivery.event_id, delivery.claim.claim_id, delivery.attempts,
                    delivery.last_error)
    else:
        backoff = knob("webhook_backoff") * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = now + timedelta(seconds=backoff)
    delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at",
                                 "last_status_code", "last_error"])
    return ok


def _claim_for_sending(delivery: WebhookDelivery) -> bool:
    """Lease the delivery so that no other thread sends it at the same time."""
    return bool(WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDelivery.Status.PENDING,
        next_attempt_at=delivery.next_attempt_at,
    ).update(next_attempt_at=timezone.now() + timedelta(seconds=LEASE_SECONDS)))


def deliver_due_webhooks(claim: PayerClaim | None = None) -> int:
    """Send every delivery that is due (of one claim, if given); returns how many succeeded."""
    # In the order they were queued: a claim's status update goes out before its payment
    # (PostgreSQL returned them in any order without it).
    due = WebhookDelivery.objects.due().select_related("claim").order_by("pk")
    if claim is not None:
        due = due.filter(claim=claim)
    return sum(deliver(d) for d in list(due) if _claim_for_sending(d))


def has_work() -> bool:
    return (PayerClaim.objects.filter(status=PayerClaim.Status.UNDER_REVIEW).exists()
            or WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).exists())


# ---- the background worker -------------------------------------------------------------

_worker_lock = threading.Lock()
_worker: threading.Thread | None = None
_wake = threading.Event()
_stop = threading.Event()


def ensure_worker() -> None:
    """Start (or wake) this process's worker thread; off when SANDBOX_WEBHOOK_WORKER is False
    (tests call the functions above instead)."""
    global _worker
    if not getattr(settings, "SANDBOX_WEBHOOK_WORKER", True):
        return
    with _worker_lock:
        if _stop.is_set():  # stop_worker() is waiting for the thread to end
            return
        if _worker is not None and _worker.is_alive():
            _wake.set()
            return
        _worker = threading.Thread(target=_run, name="sandbox-webhooks", daemon=True)
        _worker.start()


def stop_worker(timeout: float = 10.0) -> None:
    """Stop this process's worker thread, if one runs, and wait for it to end: the round
    it is in finishes first, so it leaves no half-sent delivery and no open connection."""
    global _worker
    with _worker_lock:
        thread = _worker
        if thread is None:
            return
        _stop.set()
        _wake.set()
    thread.join(timeout)
    with _worker_lock:
        if thread.is_alive():
            raise RuntimeError(f"the sandbox webhook worker did not stop within {timeout} s")
        _stop.clear()
        _wake.clear()


def _run() -> None:
    global _worker
    idle_rounds = 0
    while True:
        _wake.wait(timeout=1.0)
        _wake.clear()
        if _stop.is_set():
            with _worker_lock:
                _worker = None
            return
        try:
            settle_due_claims()
            deliver_due_webhooks()
            idle_rounds = 0 if has_work() else idle_rounds + 1
        except Exception:  # keep the worker alive; the error reaches the log
            log.exception("sandbox payer: webhook worker round failed")
            idle_rounds += 1
        finally:
            # This thread serves no request: close its connection so none leaks or goes stale.
            connection.close()
        if idle_rounds >= 30:
            # Under the lock, so a concurrent ensure_worker() either wakes us or starts anew.
            with _worker_lock:
                if not _wake.is_set():
                    _worker = None
                    return
            idle_rounds = 0
