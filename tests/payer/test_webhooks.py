from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import responses

from payer.models import WebhookDelivery
from revcycle.models import Ticket
from tests.payer.helpers import BASE, BODY, UNDER_REVIEW, queue, step

pytestmark = pytest.mark.django_db
SECRET = "whsec-test"
CLAIM_ID = "CLM-20241003-DEF456"


def _sig(message: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _payload(new_status: str = "approved", **extra) -> dict:
    payload = {
        "event_type": "claim_status_update", "event_id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "claim_id": CLAIM_ID, "previous_status": "under_review", "new_status": new_status,
        "message": "Claim approved after validation", "processed_by": "claims_reviewer",
        "patient_name": "JANE DOE", "insurance_id": "BC-789-456", "amount": 1250.0,
        "payment_details": {"approved_amount": 1000.0, "patient_responsibility": 250.0,
                            "expected_payment_date": "2026-01-12", "payment_method": "ACH"},
    }
    payload.update(extra)
    return payload


def _post(client, connection, raw: bytes, *, timestamp=None, signature=None, event_id=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"HTTP_X_WEBHOOK_TIMESTAMP": str(timestamp)}
    if signature is not False:
        headers["HTTP_X_WEBHOOK_SIGNATURE"] = signature or _sig(f"{timestamp}.".encode() + raw)
    if event_id:
        headers["HTTP_X_WEBHOOK_ID"] = event_id
    return client.post(f"/claims/payer/webhooks/{connection.pk}/", data=raw,
                       content_type="application/json", **headers)


def assert_refused_and_unchanged(claim, reason: str, status: int) -> None:
    """A refused delivery changes nothing and is recorded with why."""
    before = (claim.status, claim.approved_amount, claim.events.count())
    claim.refresh_from_db()
    assert (claim.status, claim.approved_amount, claim.events.count()) == before
    assert Ticket.objects.get(pk=claim.ticket_id).state != "done"
    delivery = WebhookDelivery.objects.latest("id")
    assert (delivery.outcome, delivery.http_status) == ("refused", status)
    assert delivery.reason.startswith(reason), delivery.reason
    assert delivery.claim is None


@pytest.fixture
def under_review(payer, encounter, alice):
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
        claim = queue(payer, encounter, alice)
        step(claim)
    assert claim.status == "under_review"
    return claim


def test_a_signed_event_approves_the_claim_with_its_payment_details(client, payer, under_review):
    raw = json.dumps(_payload()).encode()
    response = _post(client, payer, raw)
    assert response.status_code == 200
    assert response.json() == {"received": True}
    under_review.refresh_from_db()
    assert under_review.status == "approved"
    assert str(under_review.approved_amount) == "1000.00"
    assert str(under_review.patient_responsibility) == "250.00"
    assert str(under_review.expected_payment_date) == "2026-01-12"
    assert under_review.payment_method == "ACH"
    assert Ticket.objects.get(pk=under_review.ticket_id).state == "done"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.signed_by, delivery.claim) == ("accepted", "header-ts",
                                                                     under_review)


def test_the_signature_is_checked_over_the_raw_bytes(client, payer, under_review):
    # Same JSON, different spacing: a receiver that re-serialized would accept it.
    raw = json.dumps(_payload(), indent=2).encode()
    signed_compact = _sig(f"{int(time.time())}.".encode()
                          + json.dumps(json.loads(raw), separators=(",", ":")).encode())
    response = _post(client, payer, raw, signature=signed_compact)
    assert response.status_code == 401
    assert_refused_and_unchanged(under_review, "header signature does not match", 401)
    assert _post(client, payer, raw).status_code == 200


def test_a_tampered_body_is_refused_and_recorded(client, payer, under_review):
    timestamp = int(time.time())
    raw = json.dumps(_payload()).encode()
    signature = _sig(f"{timestamp}.".encode() + raw)
    tampered = raw.replace(b"1000.0", b"9000.0")
    response = _post(client, payer, tampered, timestamp=timestamp, signature=signature)
    assert response.status_code == 401
    under_review.refresh_from_db()
    assert under_review.status == "under_review"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.reason) == ("refused", "header signature does not match")


def test_a_wrong_secret_is_refused(client, payer, under_review):
    timestamp = int(time.time())
    raw = json.dumps(_payload()).encode()
    bad = _sig(f"{timestamp}.".encode() + raw, secret="not-the-secret")
    assert _post(client, payer, raw, timestamp=timestamp, signature=bad).status_code == 401
    assert_refused_and_unchanged(under_review, "header signature does not match", 401)


def test_an_unsigned_event_is_refused(client, payer, under_review):
    response = _post(client, payer, json.dumps(_payload()).encode(), signature=False)
    assert response.status_code == 401
    assert_refused_and_unchanged(under_review, "unsigned", 401)


@pytest.mark.parametrize("offset", [-320, 320, -3600])  # 300 s tolerance, margin for slow runs
def test_a_stale_or_future_event_is_refused_even_when_correctly_signed(
        client, payer, under_review, offset):
    response = _post(client, payer, json.dumps(_payload()).encode(),
                     timestamp=int(time.time()) + offset)
    assert response.status_code == 400
    assert_refused_and_unchanged(under_review, "stale timestamp", 400)


def test_the_same_event_twice_changes_the_claim_once_and_records_both(client, payer, under_review):
    raw = json.dumps(_payload()).encode()
    first = _post(client, payer, raw)
    # The payer's retry: the same bytes, a new timestamp and signature.
    second = _post(client, payer, raw, timestamp=int(time.time()) + 1)
    assert first.status_code == second.status_code == 200
    assert second.json() == {"received": True}
    assert under_review.events.filter(status="approved").count() == 1
    outcomes = sorted(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


def test_a_replayed_event_with_a_new_header_id_is_still_a_duplicate(client, payer, under_review):
    raw = json.dumps(_payload()).encode()
    _post(client, payer, raw, event_id="a")
    _post(client, payer, raw, event_id="b")
    assert under_review.events.filter(status="approved").count() == 1
    assert WebhookDelivery.objects.filter(outcome="duplicate").count() == 1


def test_a_late_under_review_event_does_not_undo_an_approval(client, payer, under_review):
    _post(client, payer, json.dumps(_payload()).encode())
    late = _payload("under_review", previous_status="submitted", payment_details=None)
    assert _post(client, payer, json.dumps(late).encode()).status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "approved"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_malformed_body_is_answered_400_without_a_traceback(client, payer, under_review, raw):
    response = _post(client, payer, raw)
    assert response.status_code == 400
    assert b"Traceback" not in response.content
    assert response.json()["received"] is False
    assert_refused_and_unchanged(under_review, "body is not", 400)


def test_a_malformed_unsigned_body_is_400_too(client, payer, under_review):
    response = _post(client, payer, b"{oops", signature=False)
    assert response.status_code == 400
    assert_refused_and_unchanged(under_review, "body is not JSON", 400)


def test_the_body_signature_is_accepted_as_a_fallback(client, payer, under_review):
    payload = _payload()
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    payload["webhook_signature"] = _sig(canonical)
    response = _post(client, payer, json.dumps(payload).encode(), signature=False)
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().signed_by == "body"
    under_review.refresh_from_db()
    assert under_review.status == "approved"


def test_a_stale_body_signed_event_is_refused(client, payer, under_review):
    payload = _payload(timestamp="2024-10-03T15:30:00Z")
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    payload["webhook_signature"] = _sig(canonical)
    response = _post(client, payer, json.dumps(payload).encode(), signature=False)
    assert response.status_code == 400
    assert_refused_and_unchanged(under_review, "stale timestamp", 400)


def test_an_event_for_a_claim_we_do_not_know_yet_is_left_for_the_retry(client, payer, under_review):
    raw = json.dumps(_payload(claim_id="CLM-OTHER")).encode()
    assert _post(client, payer, raw).status_code == 409
    assert_refused_and_unchanged(under_review, "no claim with this claim_id", 409)


def test_a_connection_without_a_webhook_secret_accepts_nothing(client, payer, under_review):
    payer.webhook_secret = ""
    payer.save()
    assert _post(client, payer, json.dumps(_payload()).encode()).status_code == 404
    assert_refused_and_unchanged(under_review, "no webhook secret", 404)


def test_the_endpoint_needs_no_login_and_no_csrf_token(payer, under_review):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    assert _post(csrf_client, payer, json.dumps(_payload()).encode()).status_code == 200


def test_another_connections_secret_cannot_touch_this_claim(client, payer, under_review, st_marys):
    from revcycle.models import Connection

    other = Connection.objects.create(kind="payer", name="Other payer", base_url="https://o.test",
                                      webhook_secret="other-secret")
    raw = json.dumps(_payload()).encode()
    timestamp = int(time.time())
    signature = _sig(f"{timestamp}.".encode() + raw, secret="other-secret")
    assert _post(client, other, raw, timestamp=timestamp, signature=signature).status_code == 409
    assert_refused_and_unchanged(under_review, "no claim with this claim_id", 409)


def _raw_signed(client, connection, raw: bytes, signature: str | None = None, **headers):
    """The strict sandbox's way, and a real payer's likely one: HMAC over the raw body only."""
    signature = signature if signature is not None else _sig(raw)
    return client.post(f"/claims/payer/webhooks/{connection.pk}/", data=raw,
                       content_type="application/json",
                       headers={"X-Webhook-Signature": signature, **headers})


@pytest.mark.parametrize("prefix", ["sha256=", "", "SHA256="])
def test_a_signature_over_the_raw_body_is_accepted_with_or_without_its_prefix(
        client, payer, under_review, prefix):
    raw = json.dumps(_payload()).encode()
    response = _raw_signed(client, payer, raw, prefix + _sig(raw).removeprefix("sha256="))
    assert response.status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "approved"
    assert WebhookDelivery.objects.get().signed_by == "header"


def test_the_signature_header_is_a_setting_of_the_connection(client, payer, under_review):
    from payer.models import WebhookSettings

    WebhookSettings.objects.create(connection=payer, signature_header="X-HCMS-Signature")
    raw = json.dumps(_payload()).encode()
    assert _raw_signed(client, payer, raw).status_code == 401  # the default header is not read
    assert_refused_and_unchanged(under_review, "unsigned", 401)
    response = client.post(f"/claims/payer/webhooks/{payer.pk}/", data=raw,
                           content_type="application/json",
                           headers={"X-HCMS-Signature": _sig(raw)})
    assert response.status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "approved"


def _partial_signatures(raw: bytes) -> list[str]:
    good = _sig(raw)
    hexpart = good.removeprefix("sha256=")
    return [good[:-1], good[:40], "sha256=", hexpart[:32], "x" + good, good + "0",
            "sha1=" + hexpart, f"{good},{good}", "sha256= " + hexpart, hexpart[:-2] + "  "]


@pytest.mark.parametrize("which", range(10))
def test_a_truncated_prefixed_or_partial_signature_is_refused_and_changes_nothing(
        client, payer, under_review, which):
    raw = json.dumps(_payload()).encode()
    response = _raw_signed(client, payer, raw, _partial_signatures(raw)[which])
    assert response.status_code == 401
    assert_refused_and_unchanged(under_review, "", 401)
    assert WebhookDelivery.objects.get().reason in ("malformed signature",
                                                    "header signature does not match")


def test_a_stale_timestamp_header_is_refused_even_with_a_raw_body_signature(
        client, payer, under_review):
    raw = json.dumps(_payload()).encode()
    response = _raw_signed(client, payer, raw,
                           **{"X-Webhook-Timestamp": str(int(time.time()) - 3600)})
    assert response.status_code == 400
    assert_refused_and_unchanged(under_review, "stale timestamp", 400)


def test_a_re_serialised_copy_of_a_signed_event_takes_effect_once(client, payer, under_review):
    payload = _payload()
    del payload["event_id"]  # no id: the content decides
    compact = json.dumps(payload, separators=(",", ":")).encode()
    spaced = json.dumps(payload, indent=4, sort_keys=True).encode()
    assert _raw_signed(client, payer, compact).status_code == 200
    assert _raw_signed(client, payer, spaced).status_code == 200
    assert under_review.events.filter(status="approved").count() == 1
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


def test_a_final_status_never_flips_and_the_conflict_is_kept_for_a_person(
        client, payer, under_review, alice):
    _raw_signed(client, payer, json.dumps(_payload()).encode())
    rejected = _payload("rejected", message="Not covered after all", payment_details=None)
    assert _raw_signed(client, payer, json.dumps(rejected).encode()).status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "approved"
    assert str(under_review.approved_amount) == "1000.00"
    assert "now says rejected" in under_review.conflict
    flagged = under_review.events.get(needs_person=True)
    assert "Not covered after all" in flagged.message
    client.force_login(alice)
    page = client.get(f"/claims/payer/{under_review.pk}/").content.decode()
    assert "now says rejected" in page


def test_the_submitted_event_is_written_on_the_timeline(client, payer, under_review):
    event = _payload(event_type="submitted", new_status="submitted",
                     message="Claim received", payment_details=None)
    assert _raw_signed(client, payer, json.dumps(event).encode()).status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "under_review"
    assert under_review.events.filter(message__contains="confirmed it received").count() == 1


def test_payment_processed_puts_the_payment_on_the_claim(client, payer, under_review):
    _raw_signed(client, payer, json.dumps(_payload()).encode())
    event = {"event_type": "payment_processed", "event_id": "pay-1", "claim_id": CLAIM_ID,
             "timestamp": "2026-01-12T09:00:00Z",
             "payment_details": {"paid_amount": "1000.00", "payment_date": "2026-01-12",
                                 "payment_reference": "ACH-778899", "payment_method": "ACH"}}
    assert _raw_signed(client, payer, json.dumps(event).encode()).status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "paid"
    assert (str(under_review.paid_amount), str(under_review.paid_on),
            under_review.payment_reference) == ("1000.00", "2026-01-12", "ACH-778899")
    assert under_review.events.filter(status="paid", source="webhook").count() == 1


def test_an_unknown_event_type_is_recorded_without_failing(client, payer, under_review):
    event = _payload(event_type="claim_archived", message="Archived")
    assert _raw_signed(client, payer, json.dumps(event).encode()).status_code == 200
    under_review.refresh_from_db()
    assert under_review.status == "under_review"
    assert under_review.events.filter(message__contains="claim_archived").count() == 1
    assert WebhookDelivery.objects.get().outcome == "accepted"


def test_a_deeply_nested_signed_body_is_a_400_not_a_500(client, payer, under_review):
    raw = b'{"claim_id": "' + CLAIM_ID.encode() + b'", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = _raw_signed(client, payer, raw)
    assert response.status_code == 400
    assert_refused_and_unchanged(under_review, "body nested deeper", 400)


def test_a_body_over_1_mb_is_refused_before_it_is_read(client, payer, under_review):
    raw = b'{"pad": "' + b"A" * 1_000_001 + b'"}'
    response = _raw_signed(client, payer, raw)
    assert response.status_code == 413
    assert_refused_and_unchanged(under_review, "body over", 413)


def test_the_secret_is_hidden_from_debug_error_reports(rf, payer):
    import sys

    from django.views.debug import ExceptionReporter

    from payer import webhooks

    class Exploding(dict):
        def get(self, *args):
            raise RuntimeError("boom")

    try:
        webhooks.receive(payer, Exploding(), b"{}")
    except RuntimeError:
        html = ExceptionReporter(rf.post("/"), *sys.exc_info()).get_traceback_html()
    assert "boom" in html
    assert "webhooks.py" in html and "verify" in html
    assert payer.webhook_secret not in html


def test_a_conflicted_claim_is_on_the_follow_up_worklist(client, payer, under_review):
    from django.utils import timezone

    from followup.models import RecheckPolicy
    from followup.sources import worklist_condition

    def on_worklist() -> bool:
        condition = worklist_condition(timezone.now(), RecheckPolicy.get(), ["payer_conflict"])
        return Ticket.objects.filter(condition, pk=under_review.ticket_id).exists()

    _raw_signed(client, payer, json.dumps(_payload()).encode())
    assert not on_worklist()
    rejected = _payload("rejected", message="Not covered", payment_details=None)
    _raw_signed(client, payer, json.dumps(rejected).encode())
    assert on_worklist()


# Each field the content key covers, changed alone: a different event, not a copy.
DIFFERENT_BY_ONE_FIELD = {
    "claim_id": {"claim_id": "CLM-SECOND"},
    "event_type": {"event_type": "status_update"},
    "new_status": {"new_status": "rejected"},
    "status": {"status": "approved"},
    "timestamp": {"timestamp": "2026-01-12T09:00:01Z"},
    "processed_date": {"processed_date": "2026-01-12"},
    "payment_details": {"payment_details": {"approved_amount": 999.0}},
}


@pytest.mark.parametrize("field", DIFFERENT_BY_ONE_FIELD)
def test_an_event_differing_in_one_field_is_not_taken_for_a_copy(
        client, payer, under_review, st_marys, field):
    from payer.models import PayerClaim

    PayerClaim.objects.create(facility=st_marys, connection=payer, claim_id="CLM-SECOND",
                              patient_name="JOHN ROE", diagnosis_code="J20.9",
                              amount="100.00", status="under_review")
    base = {"event_type": "claim_status_update", "claim_id": CLAIM_ID,
            "new_status": "approved", "timestamp": "2026-01-12T09:00:00Z",
            "payment_details": {"approved_amount": 1000.0}}
    for event in (base, {**base, **DIFFERENT_BY_ONE_FIELD[field]}):
        event = {**event, "event_id": str(uuid.uuid4())}
        assert _raw_signed(client, payer, json.dumps(event).encode()).status_code == 200
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "accepted"]
    assert len(set(WebhookDelivery.objects.values_list("content_key", flat=True))) == 2


def test_a_timestamp_exactly_at_the_tolerance_is_fresh_and_one_second_more_is_stale():
    from payer.webhooks import Refused, _check_fresh

    now = 1_800_000_000.0
    _check_fresh(str(int(now) - 300), now)
    _check_fresh(str(int(now) + 300), now)
    with pytest.raises(Refused) as refused:
        _check_fresh(str(int(now) - 301), now)
    assert (refused.value.status, refused.value.reason) == (
        400, "stale timestamp (+301 s from now)")
    with pytest.raises(Refused) as refused:
        _check_fresh(str(int(now) + 301), now)
    assert refused.value.reason == "stale timestamp (-301 s from now)"


@pytest.mark.parametrize("timestamp", ["", None, "yesterday", "2026-01-12T09:00:00"])
def test_a_missing_unreadable_or_zoneless_timestamp_is_refused(timestamp):
    from payer.webhooks import Refused, _check_fresh

    moment = datetime(2026, 1, 12, 9, 0, tzinfo=UTC).timestamp()
    with pytest.raises(Refused) as refused:
        _check_fresh(timestamp, moment)
    assert (refused.value.status, refused.value.reason) == (400, "missing or unreadable timestamp")
    _check_fresh("2026-01-12T09:00:00Z", moment)
    _check_fresh("2026-01-12T11:00:00+02:00", moment)


def test_a_delivery_is_recorded_under_the_body_event_id_then_the_header_id_then_its_content(
        client, payer, under_review):
    # The body's id is signed and the header's is not: the body's wins. The recorded key is
    # the one the unique constraint holds, so it decides what counts as a replay.
    long_id = "evt-" + "9" * 120
    with_body_id = _payload(event_id=long_id)
    header_id_only = _payload("rejected", event_id="")
    header_id_again = _payload("paid", event_id=None)
    no_id_at_all = {k: v for k, v in _payload(claim_id="CLM-X").items() if k != "event_id"}
    for event in (with_body_id, header_id_only, header_id_again):
        _raw_signed(client, payer, json.dumps(event).encode(), **{"X-Webhook-Id": "hdr-1"})
    _raw_signed(client, payer, json.dumps(no_id_at_all).encode())
    rows = list(WebhookDelivery.objects.order_by("id").values_list(
        "event_key", "outcome", "content_key"))
    assert [row[:2] for row in rows[:3]] == [
        (long_id[:100], "accepted"), ("hdr-1", "accepted"), ("hdr-1", "duplicate")]
    assert rows[3][0] == f"content:{rows[3][2][:60]}"


def test_an_event_id_seen_before_changes_nothing_even_with_new_content(
        client, payer, under_review):
    first = _payload(event_id="evt-1")
    again = _payload("rejected", event_id="evt-1", message="Changed its mind")
    assert _raw_signed(client, payer, json.dumps(first).encode()).status_code == 200
    assert _raw_signed(client, payer, json.dumps(again).encode()).status_code == 200
    under_review.refresh_from_db()
    assert (under_review.status, under_review.conflict) == ("approved", "")
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["accepted", "duplicate"]


def _body_of_size(size: int) -> bytes:
    return b'{"pad": "' + b"A" * (size - 11) + b'"}'


def test_a_body_at_the_cap_is_read_and_one_byte_more_is_refused_before_its_signature(
        payer, under_review):
    # Without a Content-Length (a chunked POST) the view cannot refuse early: `receive` must
    # refuse the size before it spends an HMAC over the body.
    from payer.webhooks import MAX_BODY, receive

    at_cap = _body_of_size(MAX_BODY)
    assert len(at_cap) == MAX_BODY
    delivery = receive(payer, {"X-Webhook-Signature": _sig(at_cap)}, at_cap)
    assert (delivery.outcome, delivery.http_status, delivery.reason) == (
        "refused", 409, "no claim with this claim_id here")
    over = _body_of_size(MAX_BODY + 1)
    delivery = receive(payer, {"X-Webhook-Signature": _sig(b"another body")}, over)
    assert (delivery.http_status, delivery.reason) == (413, "body over 1000000 bytes")
    assert_refused_and_unchanged(under_review, "body over 1000000 bytes", 413)


@pytest.mark.parametrize("signature", [123, ["sha256=ab"], {"sha256": "ab"}, ""])
def test_a_body_signature_that_is_not_a_string_is_unsigned(client, payer, under_review,
                                                            signature):
    payload = _payload(webhook_signature=signature)
    response = _post(client, payer, json.dumps(payload).encode(), signature=False)
    assert response.json() == {"received": False, "error": "unsigned"}
    assert response.status_code == 401
    assert_refused_and_unchanged(under_review, "unsigned", 401)


@pytest.mark.parametrize(("raw", "status", "reason"), [
    (b" " * 1_000_001, 413, "body over 1000000 bytes"),
    (b"[" * 20 + b"]" * 20, 400, "body is not a JSON object"),
    (b"[" * 21 + b"]" * 21, 400, "body nested deeper than 20 levels"),
    (b'{"a": NaN}', 400, "body is not JSON"),
    (b'{"a": -Infinity}', 400, "body is not JSON"),
    (b"\xff{}", 400, "body is not JSON"),
    (b'{"a": "\\u0000"}', 400, "body holds a NUL character"),
    (b'{"a": "\\U0000"}', 400, "body is not JSON"),
])
def test_parse_refuses_with_the_status_and_reason(raw, status, reason):
    from payer.webhooks import Refused, parse

    with pytest.raises(Refused) as refused:
        parse(raw)
    assert (refused.value.status, refused.value.reason) == (status, reason)


def test_parse_reads_a_body_nested_to_the_cap_and_brackets_inside_strings():
    from payer.webhooks import parse

    deep = b'{"a": ' + b"[" * 19 + b"]" * 19 + b"}"
    assert parse(deep) == {"a": json.loads(b"[" * 19 + b"]" * 19)}
    text = '{"note": "' + "[{" * 40 + '\\"[[", "b": "\\\\"}'
    assert parse(text.encode()) == json.loads(text)


@pytest.mark.parametrize(("raw", "depth"), [
    (b"", 0), (b"{}", 1), (b"[]{}[]", 1), (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[{{{"}', 1), (b'{"a": [], "b": [[]]}', 3),
    (b'{"a": "\\"[[[", "b": [[]]}', 3), (b"]]]", 0),
])
def test_nesting_depth_counts_brackets_outside_strings(raw, depth):
    from payer.webhooks import nesting_depth

    assert nesting_depth(raw) == depth


@pytest.mark.parametrize(("length", "too_big"), [
    (None, False), ("", False), ("0", False), ("1000000", False), ("1000001", True),
    ("lots", True), ("-1", False)])
def test_too_big_reads_the_content_length_header(rf, length, too_big):
    from payer.webhooks import _too_big

    request = rf.post("/")
    request.META.pop("CONTENT_LENGTH", None)
    if length is not None:
        request.META["CONTENT_LENGTH"] = length
    assert _too_big(request) is too_big


def test_a_content_length_over_1_mb_is_refused_without_reading_the_body(
        client, payer, under_review):
    raw = json.dumps(_payload()).encode()
    response = client.post(f"/claims/payer/webhooks/{payer.pk}/", data=raw,
                           content_type="application/json", CONTENT_LENGTH="1000001",
                           headers={"X-Webhook-Signature": _sig(raw)})
    assert response.status_code == 413
    assert response.json() == {"received": False, "error": "body over 1000000 bytes"}
    assert_refused_and_unchanged(under_review, "body over 1000000 bytes", 413)
    assert WebhookDelivery.objects.get().body_digest == ""


def test_an_accepted_event_and_its_copy_are_recorded_with_what_they_said(
        client, payer, under_review):
    from payer.webhooks import content_key

    payload = _payload()
    raw = json.dumps(payload).encode()
    assert _raw_signed(client, payer, raw).json() == {"received": True}
    copy = _raw_signed(client, payer, raw)
    assert (copy.status_code, copy.json()) == (200, {"received": True})
    accepted, duplicate = WebhookDelivery.objects.order_by("id")
    said = ("claim_status_update", CLAIM_ID, "approved", "header", content_key(payload),
            hashlib.sha256(raw).hexdigest(), "127.0.0.1", payload["event_id"], under_review)
    for row in (accepted, duplicate):
        assert (row.event_type, row.payer_claim_id, row.new_status, row.signed_by,
                row.content_key, row.body_digest, row.remote_addr, row.event_key,
                row.claim) == said
    assert (accepted.outcome, accepted.http_status, accepted.reason) == ("accepted", 200, "")
    assert (duplicate.outcome, duplicate.http_status, duplicate.reason) == (
        "duplicate", 200, "already processed")
    assert under_review.events.filter(status="approved").count() == 1


def test_an_event_without_a_claim_id_never_reaches_a_claim_not_yet_sent(
        client, payer, under_review, st_marys):
    from payer.models import PayerClaim

    unsent = PayerClaim.objects.create(facility=st_marys, connection=payer, claim_id="",
                                       patient_name="JOHN ROE", diagnosis_code="J20.9",
                                       amount="100.00", status="queued")
    event = {"event_id": "evt-no-claim", "timestamp": "2026-01-12T09:00:00Z"}
    response = _raw_signed(client, payer, json.dumps(event).encode())
    assert response.json() == {"received": False, "error": "no claim with this claim_id here"}
    assert response.status_code == 409
    unsent.refresh_from_db()
    assert (unsent.status, unsent.events.count()) == ("queued", 0)
    row = WebhookDelivery.objects.get()
    assert (row.event_type, row.payer_claim_id, row.new_status, row.claim) == ("", "", "", None)


def test_long_event_fields_are_recorded_cut_to_their_columns(client, payer, under_review):
    event = _payload(claim_id="CLM-" + "9" * 120, event_type="t" * 50, new_status="s" * 30)
    assert _raw_signed(client, payer, json.dumps(event).encode()).status_code == 409
    row = WebhookDelivery.objects.get()
    assert (row.payer_claim_id, row.event_type, row.new_status) == (
        ("CLM-" + "9" * 120)[:100], "t" * 40, "s" * 20)


@pytest.mark.parametrize("forgery", ["wrong secret", "tampered after signing"])
def test_a_forged_body_signature_is_refused_and_changes_nothing(client, payer, under_review,
                                                                 forgery):
    payload = _payload()
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    if forgery == "wrong secret":
        payload["webhook_signature"] = _sig(canonical, secret="not-the-secret")
    else:
        payload["webhook_signature"] = _sig(canonical)
        payload["payment_details"]["approved_amount"] = 9000.0
    response = _post(client, payer, json.dumps(payload).encode(), signature=False)
    assert response.json() == {"received": False, "error": "body signature does not match"}
    assert response.status_code == 401
    assert_refused_and_unchanged(under_review, "body signature does not match", 401)


def test_a_duplicate_names_the_claim_of_its_own_payer_when_two_payers_share_a_claim_id(
        client, payer, under_review, encounter, alice, st_marys):
    from revcycle.models import Connection

    other = Connection.objects.create(kind="payer", name="Other payer", base_url=BASE,
                                      api_key="other-key", provider_id="PROV-002",
                                      webhook_secret="other-secret")
    other.facilities.add(st_marys)
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/claims/", json=UNDER_REVIEW, status=201)
        theirs = queue(other, encounter, alice, body=dict(BODY, amount="1300.00"),
                       reference="RC-TEST0002")
        step(theirs)
    assert theirs.claim_id == under_review.claim_id  # the same id, at two payers

    def send_twice(connection, secret):
        raw = json.dumps(_payload(event_id=f"evt-{connection.pk}")).encode()
        for _ in range(2):
            timestamp = int(time.time())
            signature = _sig(f"{timestamp}.".encode() + raw, secret=secret)
            assert _post(client, connection, raw, timestamp=timestamp,
                         signature=signature).status_code == 200

    send_twice(other, "other-secret")
    send_twice(payer, SECRET)
    rows = WebhookDelivery.objects.order_by("id").values_list("outcome", "claim_id")
    assert list(rows) == [("accepted", theirs.pk), ("duplicate", theirs.pk),
                          ("accepted", under_review.pk), ("duplicate", under_review.pk)]


# --- an event applied to a claim (payer.flow.apply_event / apply_payment), called as the
# receiver calls them, without the signing and HTTP round trip

@pytest.fixture
def reviewing(payer, encounter, alice):
    """A claim under review at the payer, with its engine ticket waiting to poll."""
    from payer.models import PayerClaim

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(
        status="under_review", claim_id=CLAIM_ID, message="Claim submitted for manual review",
        coverage_message="Checked by the payer")
    Ticket.objects.filter(pk=claim.ticket_id).update(state="submitted", remote_id=CLAIM_ID)
    claim.refresh_from_db()
    return claim


def _apply(claim, **payload):
    from payer import flow

    changed = flow.apply_event(claim, payload)
    claim.refresh_from_db()
    return changed


def _last_event(claim):
    return claim.events.order_by("-id").first()


def test_an_event_type_and_status_are_read_whatever_their_case_and_spaces(reviewing):
    assert _apply(reviewing, event_type=" Claim_Status_Update ", new_status=" APPROVED ",
                  message="ok") is True
    assert reviewing.status == "approved"


def test_an_event_without_a_type_is_a_status_update(reviewing):
    assert _apply(reviewing, new_status="rejected", message="Not covered") is True
    assert (reviewing.status, reviewing.rejection_reason) == ("rejected", "Not covered")
    assert Ticket.objects.get(pk=reviewing.ticket_id).state == "done"


def test_a_status_update_saying_submitted_is_only_a_receipt(reviewing):
    assert _apply(reviewing, event_type="claim_status_update", new_status="submitted") is False
    assert reviewing.status == "under_review"
    assert _last_event(reviewing).message == "The payer confirmed it received the claim."


def test_an_unknown_status_or_type_is_written_on_the_timeline_and_changes_nothing(reviewing):
    notes = []
    for payload in ({"event_type": "claim_status_update", "new_status": "pending",
                     "message": "Waiting"},
                    {"event_type": "claim_status_update", "message": "Hello"},
                    {"event_type": "t" * 50, "new_status": "approved"},
                    {"new_status": "s" * 50},
                    {"event_type": "claim_archived", "message": "m" * 600}):
        assert _apply(reviewing, **payload) is False
        note = _last_event(reviewing)
        assert (note.status, note.source) == ("under_review", "webhook")
        notes.append(note.message)
    assert notes == ["Payer: pending Waiting", "Payer: event Hello",
                     f"The payer sent an event we do not act on ({'t' * 40}).",
                     f"Payer: {'s' * 40}",
                     ("The payer sent an event we do not act on (claim_archived). "
                      + "m" * 600)[:500]]
    assert reviewing.status == "under_review"


def test_an_approval_stores_what_the_payer_said_and_no_rejection_reason(reviewing):
    assert _apply(reviewing, **_payload(coverage_message="Covered in full")) is True
    assert (reviewing.status, reviewing.message, reviewing.coverage_message) == (
        "approved", "Claim approved after validation", "Covered in full")
    assert (str(reviewing.approved_amount), str(reviewing.expected_payment),
            str(reviewing.patient_responsibility), str(reviewing.expected_payment_date),
            reviewing.payment_method, reviewing.rejection_reason) == (
        "1000.00", "1000.00", "250.00", "2026-01-12", "ACH", "")
    event = _last_event(reviewing)
    assert (event.status, event.source, event.message) == (
        "approved", "webhook", "Claim approved after validation")


def test_an_approval_without_a_message_or_method_keeps_the_claims_texts(reviewing):
    assert _apply(reviewing, event_type="claim_status_update", new_status="approved",
                  payment_details={"approved_amount": "900"}) is True
    assert (reviewing.message, reviewing.coverage_message, reviewing.payment_method) == (
        "Claim submitted for manual review", "Checked by the payer", "")
    assert _last_event(reviewing).message == "Payer set the claim to approved."
    assert str(reviewing.approved_amount) == "900.00"


def test_a_rejection_carrying_payment_details_stores_no_amounts(reviewing):
    assert _apply(reviewing, **_payload("rejected", message="Not covered")) is True
    assert (reviewing.status, reviewing.rejection_reason) == ("rejected", "Not covered")
    assert (reviewing.approved_amount, reviewing.expected_payment,
            reviewing.patient_responsibility, reviewing.payment_method) == (None, None, None, "")


def test_long_event_texts_are_cut_to_the_claims_columns(reviewing):
    _apply(reviewing, **_payload(message="m" * 600, coverage_message="c" * 600,
                                 payment_details={"payment_method": "p" * 50}))
    assert (reviewing.message, reviewing.coverage_message, reviewing.payment_method) == (
        "m" * 500, "c" * 500, "p" * 40)
    assert _last_event(reviewing).message == "m" * 500


def test_a_late_event_that_changes_nothing_says_so(reviewing):
    _apply(reviewing, **_payload())
    events = reviewing.events.count()
    assert _apply(reviewing, **_payload("under_review")) is False
    assert (reviewing.status, reviewing.events.count()) == ("approved", events)


def test_a_final_answer_closes_its_own_open_ticket_and_no_other(reviewing, payer, encounter,
                                                                 alice):
    from django.utils import timezone

    other = queue(payer, encounter, alice, reference="RC-OTHER")
    Ticket.objects.filter(pk=reviewing.ticket_id).update(
        lease_owner="worker-1", lease_until=timezone.now(), last_error="timed out",
        next_poll_at=timezone.now())
    _apply(reviewing, **_payload())
    ticket = Ticket.objects.get(pk=reviewing.ticket_id)
    assert (ticket.state, ticket.outcome, ticket.next_poll_at, ticket.lease_owner,
            ticket.lease_until, ticket.last_error) == ("done", "approved", None, "", None, "")
    assert ticket.finished_at is not None and ticket.ready_at == ticket.finished_at
    assert ticket.updated_at == ticket.finished_at  # lists sort on it; .update() skips auto_now
    assert Ticket.objects.get(pk=other.ticket_id).state == "queued"


def test_a_ticket_already_closed_is_not_reopened_as_done(reviewing):
    from payer import flow

    Ticket.objects.filter(pk=reviewing.ticket_id).update(state="failed", outcome="unknown")
    reviewing.status = "approved"
    flow.finish_ticket(reviewing)
    ticket = Ticket.objects.get(pk=reviewing.ticket_id)
    assert (ticket.state, ticket.outcome) == ("failed", "unknown")


def test_the_conflict_note_says_what_the_payer_said_and_what_was_kept(reviewing):
    _apply(reviewing, **_payload())
    assert _apply(reviewing, **_payload("rejected", message="Not covered after all")) is False
    said = ("The payer now says rejected (Not covered after all), but the claim was already "
            "approved. Kept approved; check with the payer.")
    assert (reviewing.status, reviewing.conflict) == ("approved", said)
    assert reviewing.conflict_at is not None
    note = _last_event(reviewing)
    assert (note.status, note.source, note.message, note.needs_person) == (
        "approved", "webhook", said, True)
    _apply(reviewing, event_type="claim_status_update", new_status="rejected")
    assert reviewing.conflict.startswith(
        "The payer now says rejected (Payer set the claim to rejected.), but")
    _apply(reviewing, **_payload("rejected", message="x" * 600))
    assert len(reviewing.conflict) == 500


@pytest.mark.parametrize("name", ["paid_amount", "payment_amount", "amount_paid",
                                  "approved_amount", "amount"])
def test_a_payment_amount_is_read_under_each_of_its_names(reviewing, name):
    assert _apply(reviewing, event_type="payment_processed", **{name: "12.34"}) is True
    assert (reviewing.status, str(reviewing.paid_amount)) == ("paid", "12.34")


def test_a_payment_amount_is_read_in_the_order_of_its_names_skipping_blanks(reviewing):
    _apply(reviewing, event_type="payment_processed", paid_amount="", payment_amount="2",
           amount_paid="3", approved_amount="4", amount="5")
    assert str(reviewing.paid_amount) == "2.00"


@pytest.mark.parametrize("name", ["payment_date", "paid_date", "processed_date"])
def test_a_payment_date_is_read_under_each_of_its_names(reviewing, name):
    _apply(reviewing, event_type="payment_processed", amount="1", **{name: "2026-01-12"})
    assert str(reviewing.paid_on) == "2026-01-12"


@pytest.mark.parametrize("name", ["payment_reference", "transaction_id", "reference"])
def test_a_payment_reference_is_read_under_each_of_its_names(reviewing, name):
    _apply(reviewing, event_type="payment_processed", amount="1", **{name: "ACH-1"})
    assert reviewing.payment_reference == "ACH-1"


def test_the_timeline_says_what_the_payment_was(reviewing):
    _apply(reviewing, event_type="payment_processed",
           payment_details={"paid_amount": "1000", "payment_date": "2026-01-12",
                            "payment_reference": "R" * 120})
    event = _last_event(reviewing)
    assert (event.status, event.source, event.message) == (
        "paid", "webhook", f"Payment processed: 1000.00 on 2026-01-12 ({'R' * 100}).")
    assert reviewing.payment_reference == "R" * 100


def test_a_payment_event_that_gives_nothing_says_so_and_stores_nothing(reviewing):
    assert _apply(reviewing, event_type="payment_processed") is True
    assert _last_event(reviewing).message == "Payment processed: amount not given."
    assert (reviewing.status, reviewing.paid_amount, reviewing.paid_on,
            reviewing.payment_reference) == ("paid", None, None, "")


def test_a_payment_on_a_rejected_claim_is_a_conflict_and_pays_nothing(reviewing):
    _apply(reviewing, **_payload("rejected", message="Not covered"))
    assert _apply(reviewing, event_type="payment_processed", amount="5") is False
    assert (reviewing.status, reviewing.paid_amount) == ("rejected", None)
    assert reviewing.conflict == (
        "The payer now says paid (payment of 5.00 processed), but the claim was already "
        "rejected. Kept rejected; check with the payer.")
    assert _last_event(reviewing).needs_person is True


def test_a_second_payment_event_keeps_the_first_ones_details(reviewing):
    _apply(reviewing, event_type="payment_processed", amount="1", reference="FIRST")
    assert _apply(reviewing, event_type="payment_processed", amount="2",
                  reference="SECOND") is False
    assert (str(reviewing.paid_amount), reviewing.payment_reference) == ("1.00", "FIRST")
    assert _last_event(reviewing).message == (
        "Another payment event; the first one's details are kept. "
        "Payment processed: 2.00 (SECOND).")


def test_the_payment_method_of_the_payment_replaces_the_approvals(reviewing):
    _apply(reviewing, **_payload())
    _apply(reviewing, event_type="payment_processed", amount="1", payment_method="Check")
    assert reviewing.payment_method == "Check"


def test_a_payment_without_a_method_keeps_the_approvals_and_a_long_one_is_cut(
        reviewing, payer, encounter, alice):
    _apply(reviewing, **_payload())
    _apply(reviewing, event_type="payment_processed", amount="1")
    assert reviewing.payment_method == "ACH"
    other = queue(payer, encounter, alice, reference="RC-OTHER")
    _apply(other, event_type="payment_processed", amount="1", payment_method="m" * 50)
    assert other.payment_method == "m" * 40
