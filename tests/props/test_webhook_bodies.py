"""Malformed and hostile webhook deliveries never make the receiver fail (no 500s), and no
forged one is ever accepted.

The first test is the security issue's measure: 10,000 generated deliveries, unsigned,
signed with the wrong secret, with truncated or padded signatures, with a stale timestamp,
or with bodies too deep or too big, through RequestFactory to the real view and a real
database: 0 accepted, 0 5xx. The others go through the test client: correctly signed
bodies whose content is garbage (wrong types, huge fields, odd JSON)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payer.webhooks import payer_webhook
from sandbox.signing import sign_body, sign_header

SECRET = "whsec-test"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) \
    | st.text(max_size=50)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
huge = st.integers(5000, 200_000).map(lambda n: "A" * n)
odd = json_values | huge | st.sampled_from(
    ["nan", "Infinity", "-1", "9" * 400, "1e400", "", " ", "\x00", "<html>"])
event_fields = st.fixed_dictionaries({}, optional={
    "event_type": st.sampled_from(["claim_status_update", "other"]) | odd,
    "event_id": st.uuids().map(str) | odd,
    "claim_id": st.sampled_from(["CLM-1", "CLM-X"]) | odd,
    "previous_status": st.sampled_from(["under_review", "approved"]) | odd,
    "new_status": st.sampled_from(["approved", "rejected", "under_review", "paid"]) | odd,
    "message": odd,
    "payment_details": st.none() | odd | st.fixed_dictionaries({}, optional={
        "approved_amount": odd, "patient_responsibility": odd,
        "expected_payment_date": odd, "payment_method": odd}),
    "amount": odd,
    "processed_date": odd,
})


@pytest.fixture
def hook(payer: Any, st_marys: Any, client: Client) -> Any:
    from payer.models import PayerClaim

    PayerClaim.objects.create(facility=st_marys, connection=payer, claim_id="CLM-1",
                              patient_name="JANE DOE", diagnosis_code="J45.909",
                              amount="250.00", status="under_review")
    url = reverse("payer:webhook", args=[payer.pk])

    def post(raw: bytes, headers: dict[str, str]) -> int:
        response = client.post(url, data=raw, content_type="application/json", headers=headers)
        return response.status_code

    return post


def _hmac_hex(secret: str, message: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _event(claim_id: str) -> bytes:
    return json.dumps({"event_type": "claim_status_update", "claim_id": claim_id,
                       "new_status": "approved", "timestamp": "2026-01-05T10:00:00Z"}).encode()


@st.composite
def forged_deliveries(draw: Any) -> tuple[bytes, dict[str, str]]:
    """A delivery nobody holding the secret signed, in one of the ways attackers try."""
    kind = draw(st.sampled_from(["garbage", "wrong_secret", "partial", "stale", "deep",
                                 "body_field", "other_header"]))
    raw = _event("CLM-1") if kind != "garbage" else draw(st.binary(max_size=300))
    good = _hmac_hex(SECRET, raw)
    headers: dict[str, str] = {}
    if kind == "garbage":
        headers["X-Webhook-Signature"] = draw(st.text(
            st.characters(min_codepoint=33, max_codepoint=126), max_size=80))
    elif kind == "wrong_secret":
        secret = draw(st.text(min_size=1, max_size=20).filter(lambda x: x != SECRET))
        headers["X-Webhook-Signature"] = "sha256=" + _hmac_hex(secret, raw)
    elif kind == "partial":
        cut = draw(st.integers(0, 63))
        prefix = draw(st.sampled_from(["", "sha256=", "sha1=", "sha256:", " "]))
        pad = draw(st.sampled_from(["", "0", "f", " x", ",x"]))
        headers["X-Webhook-Signature"] = prefix + good[:cut] + (pad if cut < 64 else "")
    elif kind == "stale":
        when = int(time.time()) + draw(st.sampled_from([-1, 1])) * draw(
            st.integers(301, 10**9))
        headers["X-Webhook-Timestamp"] = str(when)
        headers["X-Webhook-Signature"] = "sha256=" + _hmac_hex(SECRET, f"{when}.".encode() + raw)
    elif kind == "deep":
        depth = draw(st.integers(21, 3000))
        raw = b'{"claim_id": "CLM-1", "x": ' + b"[" * depth + b"]" * depth + b"}"
        headers["X-Webhook-Signature"] = "sha256=" + _hmac_hex("guess", raw)
    elif kind == "body_field":
        payload = json.loads(raw)
        payload["webhook_signature"] = "sha256=" + draw(st.text("0123456789abcdef",
                                                                min_size=0, max_size=64))
        raw = json.dumps(payload).encode()
    else:  # a correct signature in a header this connection does not read
        headers["X-Signature"] = "sha256=" + good
    return raw, headers


TEN_THOUSAND = settings(max_examples=10_000, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck))


def test_ten_thousand_forged_deliveries_are_all_refused_without_a_server_error(
        payer: Any, st_marys: Any) -> None:
    from payer.models import PayerClaim, WebhookDelivery

    claim = PayerClaim.objects.create(facility=st_marys, connection=payer, claim_id="CLM-1",
                                      patient_name="JANE DOE", diagnosis_code="J45.909",
                                      amount="250.00", status="under_review")
    factory = RequestFactory()
    url = reverse("payer:webhook", args=[payer.pk])
    statuses: dict[int, int] = {}

    @TEN_THOUSAND
    @given(delivery=forged_deliveries())
    def deliver(delivery: tuple[bytes, dict[str, str]]) -> None:
        raw, headers = delivery
        request = factory.post(url, data=raw, content_type="application/json",
                               headers=headers)
        status = payer_webhook(request, connection_id=payer.pk).status_code
        statuses[status] = statuses.get(status, 0) + 1
        assert 400 <= status < 500, (status, raw[:200], headers)

    deliver()
    assert sum(statuses.values()) == 10_000
    assert WebhookDelivery.objects.filter(outcome="accepted").count() == 0
    assert WebhookDelivery.objects.filter(outcome="refused").count() == 10_000
    claim.refresh_from_db()
    assert (claim.status, claim.events.count()) == ("under_review", 0)


@FUZZ
@given(raw=st.binary(max_size=3000), signature=st.text(max_size=80),
       timestamp=st.text(max_size=20))
def test_it_refuses_garbage_without_a_server_error(hook: Any, raw: bytes, signature: str,
                                                   timestamp: str) -> None:
    headers = {"X-Webhook-Signature": signature, "X-Webhook-Timestamp": timestamp}
    headers = {k: v for k, v in headers.items() if v.isprintable() and v.isascii()}
    assert hook(raw, headers) in (400, 401, 413)


@FUZZ
@given(event=event_fields, signed_in=st.sampled_from(["header", "body"]))
def test_it_never_fails_on_signed_hostile_events(hook: Any, event: dict[str, Any],
                                                 signed_in: str) -> None:
    """A correctly signed body with odd content: answered with a 2xx or 4xx, never a 500."""
    now = int(time.time())
    if signed_in == "body":
        event.setdefault("timestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
        event["webhook_signature"] = sign_body(SECRET, event)
        raw = json.dumps(event).encode()
        headers: dict[str, str] = {}
    else:
        raw = json.dumps(event).encode()
        headers = {"X-Webhook-Timestamp": str(now),
                   "X-Webhook-Signature": sign_header(SECRET, now, raw)}
    assert hook(raw, headers) < 500


@FUZZ
@given(payload=json_values)
def test_it_never_fails_on_signed_bodies_that_are_not_events(hook: Any, payload: Any) -> None:
    now = int(time.time())
    raw = json.dumps(payload).encode()
    headers = {"X-Webhook-Timestamp": str(now),
               "X-Webhook-Signature": sign_header(SECRET, now, raw)}
    assert hook(raw, headers) < 500


@pytest.mark.parametrize("timestamp", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_it_refuses_a_timestamp_that_is_not_a_moment(hook: Any, timestamp: str) -> None:
    raw = json.dumps({"event_id": "e-1", "claim_id": "CLM-1", "new_status": "approved"}).encode()
    headers = {"X-Webhook-Timestamp": timestamp,
               "X-Webhook-Signature": sign_header(SECRET, timestamp, raw)}
    assert hook(raw, headers) == 400
