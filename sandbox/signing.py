"""How the payer stand-in signs its webhooks (HMAC-SHA256, `sha256=<hex>`).

Two signatures, because the guide shows one in a header and one in the body:

- Header `X-Webhook-Signature` = sign_header(secret, timestamp, raw_body): HMAC over
  f"{timestamp}.{raw_body}", where raw_body is exactly the bytes POSTed (they include the
  body's own webhook_signature field) and timestamp is the `X-Webhook-Timestamp` header.
  A receiver verifies this one over request.body as received, with a timestamp tolerance.
- Under the strict profile only header `X-Webhook-Signature` = sign_raw(secret, raw_body):
  HMAC over the raw body alone, no timestamp header, no body field (the guide's words allow
  it, and a real payer may well do it).
- Body field `webhook_signature` = sign_body(secret, payload): HMAC over the payload
  without that field, serialized as json.dumps(payload, separators=(",", ":"),
  sort_keys=True).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def _hmac(secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def sign_header(secret: str, timestamp: int | str, raw_body: bytes | str) -> str:
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    return _hmac(secret, str(timestamp).encode() + b"." + body)


def sign_raw(secret: str, raw_body: bytes | str) -> str:
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    return _hmac(secret, body)


def sign_body(secret: str, payload_without_sig: dict[str, Any]) -> str:
    payload = {k: v for k, v in payload_without_sig.items() if k != "webhook_signature"}
    return _hmac(secret, canonical_json(payload).encode())


def verify_header(secret: str, timestamp: int | str, raw_body: bytes | str,
                  signature: str) -> bool:
    return hmac.compare_digest(sign_header(secret, timestamp, raw_body), signature or "")
