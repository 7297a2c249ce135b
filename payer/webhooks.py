"""The payer's webhooks: verify, then parse, de-duplicate, apply, record.

The guide ("Webhook Security") says only that webhooks carry HMAC-SHA256 signatures and
shows the value as `sha256=<hex>`; it names no header and no signed string. We accept:
- a header (`X-Webhook-Signature` unless the connection's WebhookSettings names another),
  `sha256=<hex>` or bare `<hex>`, being HMAC-SHA256(secret, raw body) over `request.body`
  exactly as received; when the timestamp header (`X-Webhook-Timestamp`) is present, the
  timestamped variant HMAC(secret, f"{timestamp}." + raw body) is accepted too, and a
  timestamp more than TOLERANCE from now is refused (PITFALLS.md, "Webhooks": Stripe's 300 s);
- without the header, the body field `webhook_signature` = HMAC-SHA256(secret, the payload
  without that field as json.dumps(..., separators=(",", ":"), sort_keys=True)), with the
  body's `timestamp` for staleness.
A header signature is checked before the body is parsed. A body signature cannot be, so
that body is parsed under the same caps (MAX_BODY bytes, MAX_DEPTH levels) as any other:
nothing untrusted reaches `json.loads` uncapped (a deep body raised RecursionError -> 500).

Once per event: an accepted event is recorded under unique (connection, event id) and
(connection, content key) in the same transaction as its effect; the content key covers
what the event says (claim, type, status, timestamp, payment), so a retry, a replay with a
new header id, or a re-serialised copy (whitespace changed, still validly signed) is a
duplicate and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from payer import flow as payer_flow
from payer.models import PayerClaim, WebhookDelivery, WebhookSettings
from revcycle.models import Connection

log = logging.getLogger("payer.webhooks")
TOLERANCE = 300  # seconds
MAX_BODY = 1_000_000  # bytes; the guide's events are about 1 kB
MAX_DEPTH = 20  # nesting levels; the guide's events have 2
Outcome = WebhookDelivery.Outcome
HEX_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-f]{64})", re.IGNORECASE)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Verified:
    payload: dict[str, Any]
    signed_by: str


@sensitive_variables("secret")
def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _hex_of(signature: str) -> str:
    """The 64 hex digits of `sha256=<hex>` or `<hex>`; anything else (truncated, padded,
    another prefix, two values) is refused before any comparison."""
    match = HEX_SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise Refused(401, "malformed signature")
    return match.group(1).lower()


def _epoch(value: Any) -> float | None:
    """Epoch seconds (the header) or ISO 8601 (the body's `timestamp`)."""
    text = str(value or "").strip()[:40]
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


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(raw: bytes) -> int:
    """How deeply brackets nest outside strings, without recursion (a cheap pre-check)."""
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or Refused(400): too big, too deep, not JSON, not an
    object, or with non-finite numbers."""
    if len(raw) > MAX_BODY:
        raise Refused(413, f"body over {MAX_BODY} bytes")
    if nesting_depth(raw) > MAX_DEPTH:
        raise Refused(400, f"body nested deeper than {MAX_DEPTH} levels")
    try:
        payload = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body is not a JSON object")
    if b"\\u0000" in raw.lower():
        # PostgreSQL text cannot hold NUL: a string carrying one could not be stored.
        raise Refused(400, "body holds a NUL character")
    return payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@sensitive_variables("secret")
def verify(secret: str, headers: Any, raw: bytes, now: float | None = None,
           settings: WebhookSettings | None = None) -> Verified:
    """Check the signature (and the timestamp); raise Refused, else return the payload."""
    # The checks live undecorated in _checked so that `make mutants` can mutate them (mutmut
    # skips decorated functions); Django hides `secret` in every frame called from here.
    return _checked(secret, headers, raw, time.time() if now is None else now, settings)


def _checked(secret: str, headers: Any, raw: bytes, now: float,
             settings: WebhookSettings | None) -> Verified:
    names = settings or WebhookSettings()
    if len(raw) > MAX_BODY:
        raise Refused(413, f"body over {MAX_BODY} bytes")
    header_sig = str(headers.get(names.signature_header, "") or "")
    if header_sig:
        given = _hex_of(header_sig)
        timestamp = str(headers.get(names.timestamp_header, "") or "").strip()
        if timestamp and hmac.compare_digest(
                _hmac(secret, timestamp.encode() + b"." + raw), given):
            _check_fresh(timestamp, now)
            return Verified(parse(raw), "header-ts")
        if not hmac.compare_digest(_hmac(secret, raw), given):
            raise Refused(401, "header signature does not match")
        if timestamp:
            # Not signed, but a payer that sends it means it: an old one is a replay.
            _check_fresh(timestamp, now)
        return Verified(parse(raw), "header")
    payload = parse(raw)
    body_sig = payload.get("webhook_signature")
    if not isinstance(body_sig, str) or not body_sig:
        raise Refused(401, "unsigned")
    given = _hex_of(body_sig)
    unsigned = {k: v for k, v in payload.items() if k != "webhook_signature"}
    canonical = json.dumps(unsigned, separators=(",", ":"), sort_keys=True).encode()
    if not hmac.compare_digest(_hmac(secret, canonical), given):
        raise Refused(401, "body signature does not match")
    _check_fresh(payload.get("timestamp"), now)
    return Verified(payload, "body")


def _answer(delivery: WebhookDelivery) -> JsonResponse:
    if delivery.http_status == 200:
        return JsonResponse({"received": True})
    return JsonResponse({"received": False, "error": delivery.reason}, status=delivery.http_status)


def content_key(payload: dict[str, Any]) -> str:
    """What the event says, whatever its spacing or key order: a copy has the same key."""
    said = [str(payload.get(name) or "")[:200] for name in
            ("claim_id", "event_type", "new_status", "status", "timestamp", "processed_date")]
    payment = payload.get("payment_details")
    said.append(json.dumps(payment, sort_keys=True, default=str)[:2000]
                if isinstance(payment, dict) else "")
    return hashlib.sha256(json.dumps(said).encode()).hexdigest()


def _event_key(headers: Any, payload: dict[str, Any], content: str) -> str:
    # The body's event_id is covered by the signature; the header's is not, so it comes second.
    key = str(payload.get("event_id") or headers.get("X-Webhook-Id") or "").strip()
    return key[:100] if key else f"content:{content[:60]}"


@sensitive_variables("secret")
def receive(connection: Connection, headers: Any, raw: bytes,
            remote_addr: str | None = None) -> WebhookDelivery:
    """Verify and apply one delivery; returns its recorded row (with the HTTP status).
    A refused delivery changes nothing but its own WebhookDelivery row."""
    digest = hashlib.sha256(raw).hexdigest()
    record: dict[str, Any] = {"connection": connection, "body_digest": digest,
                              "remote_addr": remote_addr}
    secret = connection.webhook_secret
    try:
        if not secret:
            raise Refused(404, "no webhook secret configured for this connection")
        verified = verify(secret, headers, raw,
                          settings=WebhookSettings.for_connection(connection))
    except Refused as refusal:
        return WebhookDelivery.objects.create(outcome=Outcome.REFUSED, reason=refusal.reason,
                                              http_status=refusal.status, **record)
    return _apply(connection, headers, verified, record)


def _apply(connection: Connection, headers: Any, verified: Verified,
           record: dict[str, Any]) -> WebhookDelivery:
    payload = verified.payload
    content = content_key(payload)
    record.update(signed_by=verified.signed_by, content_key=content,
                  event_key=_event_key(headers, payload, content),
                  event_type=str(payload.get("event_type") or "")[:40],
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


def _too_big(request: HttpRequest) -> bool:
    """Refuse by Content-Length before reading the body into memory."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY
    except ValueError:
        return True


@csrf_exempt
@login_not_required
@require_POST
def payer_webhook(request: HttpRequest, connection_id: int) -> HttpResponse:
    """POST /claims/payer/webhooks/<connection_id>/ (guide: "Set Up Webhook Endpoint")."""
    connection = Connection.objects.filter(pk=connection_id, kind="payer").first()
    if connection is None:
        return JsonResponse({"received": False, "error": "unknown endpoint"}, status=404)
    if _too_big(request):
        delivery = WebhookDelivery.objects.create(
            connection=connection, outcome=Outcome.REFUSED, http_status=413,
            reason=f"body over {MAX_BODY} bytes", remote_addr=request.META.get("REMOTE_ADDR"))
    else:
        delivery = receive(connection, request.headers, request.body,
                           request.META.get("REMOTE_ADDR"))
    log.info("payer webhook on connection %s: %s (%s) %s", connection.pk, delivery.outcome,
             delivery.http_status, delivery.reason)
    return _answer(delivery)
