"""The payer's claim_status_update webhooks: verify, de-duplicate, apply, record.

Signatures (sandbox/signing.py is the reference; the guide shows both places):
- header `X-Webhook-Signature: sha256=<hex>` = HMAC-SHA256(secret, f"{X-Webhook-Timestamp}."
  + raw body), over `request.body` exactly as received, timestamp in epoch seconds;
- fallback, body field `webhook_signature` = HMAC-SHA256(secret, the payload without that
  field as json.dumps(..., separators=(",", ":"), sort_keys=True)), with the body's
  `timestamp` for staleness.
Events older than TOLERANCE or more than TOLERANCE in the future are refused (PITFALLS.md,
"Webhooks": Stripe's 300 s). The payer retries 3 times, so the same event arrives again:
an accepted event is recorded under a unique (connection, event id) and (connection, body
digest) in the same transaction as its effect, and the second copy changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payer import flow as payer_flow
from payer.models import PayerClaim, WebhookDelivery
from revcycle.models import Connection

log = logging.getLogger("payer.webhooks")
TOLERANCE = 300  # seconds
Outcome = WebhookDelivery.Outcome


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Verified:
    payload: dict[str, Any]
    signed_by: str


def _hmac(secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _epoch(value: Any) -> float | None:
    """Epoch seconds (the header) or ISO 8601 (the body's `timestamp`)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats and would never be stale.
        return number if math.isfinite(number) else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None


def _check_fresh(value: Any, now: float) -> None:
    moment = _epoch(value)
    if moment is None:
        raise Refused(400, "missing or unreadable timestamp")
    if abs(now - moment) > TOLERANCE:
        raise Refused(400, f"stale timestamp ({now - moment:+.0f} s from now)")


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body is not a JSON object")
    return payload


def verify(secret: str, headers: Any, raw: bytes, now: float | None = None) -> Verified:
    """Check the signature and the timestamp; raise Refused, else return the payload."""
    now = time.time() if now is None else now
    header_sig = headers.get("X-Webhook-Signature", "")
    if header_sig:
        timestamp = headers.get("X-Webhook-Timestamp", "")
        expected = _hmac(secret, str(timestamp).encode() + b"." + raw)
        if not hmac.compare_digest(expected.encode(), header_sig.strip().encode()):
            raise Refused(401, "header signature does not match")
        _check_fresh(timestamp, now)
        return Verified(_parse(raw), "header")
    payload = _parse(raw)
    body_sig = payload.get("webhook_signature")
    if not isinstance(body_sig, str) or not body_sig:
        raise Refused(401, "unsigned")
    unsigned = {k: v for k, v in payload.items() if k != "webhook_signature"}
    canonical = json.dumps(unsigned, separators=(",", ":"), sort_keys=True).encode()
    if not hmac.compare_digest(_hmac(secret, canonical).encode(), body_sig.strip().encode()):
        raise Refused(401, "body signature does not match")
    _check_fresh(payload.get("timestamp"), now)
    return Verified(payload, "body")


def _answer(delivery: WebhookDelivery) -> JsonResponse:
    if delivery.http_status == 200:
        return JsonResponse({"received": True})
    return JsonResponse({"received": False, "error": delivery.reason}, status=delivery.http_status)


def _event_key(headers: Any, payload: dict[str, Any], digest: str) -> str:
    # The body's event_id is covered by the signature; the header's is not, so it comes second.
    key = str(payload.get("event_id") or headers.get("X-Webhook-Id") or "").strip()
    return key[:100] if key else f"sha256:{digest[:60]}"


def receive(connection: Connection, headers: Any, raw: bytes,
            remote_addr: str | None = None) -> WebhookDelivery:
    """Verify and apply one delivery; returns its recorded row (with the HTTP status)."""
    digest = hashlib.sha256(raw).hexdigest()
    record: dict[str, Any] = {"connection": connection, "body_digest": digest,
                              "remote_addr": remote_addr}
    try:
        if not connection.webhook_secret:
            raise Refused(404, "no webhook secret configured for this connection")
        verified = verify(connection.webhook_secret, headers, raw)
    except Refused as refusal:
        return WebhookDelivery.objects.create(outcome=Outcome.REFUSED, reason=refusal.reason,
                                              http_status=refusal.status, **record)
    payload = verified.payload
    record.update(signed_by=verified.signed_by,
                  event_key=_event_key(headers, payload, digest),
                  payer_claim_id=str(payload.get("claim_id") or "")[:100],
                  new_status=str(payload.get("new_status") or "")[:20])
    try:
        with transaction.atomic():
            claim = (PayerClaim.objects.select_for_update()
                     .filter(connection=connection, claim_id=record["payer_claim_id"]).first()
                     if record["payer_claim_id"] else None)
            if claim is None:
                # Not consumed: the payer retries, and the claim id may be stored by then
                # (an event can overtake the answer to our own POST).
                return WebhookDelivery.objects.create(
                    outcome=Outcome.REFUSED, reason="no claim with this claim_id here",
                    http_status=409, **record)
            delivery = WebhookDelivery.objects.create(
                outcome=Outcome.ACCEPTED, http_status=200, claim=claim, **record)
            payer_flow.apply_event(claim, payload)
            return delivery
    except IntegrityError:
        claim = PayerClaim.objects.filter(connection=connection,
                                          claim_id=record["payer_claim_id"]).first()
        return WebhookDelivery.objects.create(
            outcome=Outcome.DUPLICATE, reason="already processed", http_status=200,
            claim=claim, **record)


@csrf_exempt
@login_not_required
@require_POST
def payer_webhook(request: HttpRequest, connection_id: int) -> HttpResponse:
    """POST /claims/payer/webhooks/<connection_id>/ (guide: "Set Up Webhook Endpoint")."""
    connection = Connection.objects.filter(pk=connection_id, kind="payer").first()
    if connection is None:
        return JsonResponse({"received": False, "error": "unknown endpoint"}, status=404)
    delivery = receive(connection, request.headers, request.body,
                       request.META.get("REMOTE_ADDR"))
    log.info("payer webhook on connection %s: %s (%s) %s", connection.pk, delivery.outcome,
             delivery.http_status, delivery.reason)
    return _answer(delivery)
