from __future__ import annotations

import json
import time
from typing import Any

import pytest
import responses
from django.utils import timezone

from sandbox import demo_data
from sandbox.models import PayerClaim, WebhookDelivery
from sandbox.payer import register_webhook
from sandbox.signing import sign_body, sign_header
from sandbox.webhooks import deliver_due_webhooks, settle_due_claims

from .conftest import PAYER

pytestmark = pytest.mark.django_db
HOOK = "https://provider.test/webhooks/payor-claims"
SECRET = "whsec-test"
COVERED = {"patient_name": "John Doe", "insurance_id": "BC-789-456", "diagnosis_code": "J20.9",
           "procedure_code": "99213", "amount": "1250.00"}
EXCLUDED = {**COVERED, "diagnosis_code": "Z51.12", "procedure_code": "15776", "amount": "5000.00"}


def submit(client: Any, body: dict, **headers: str) -> Any:
    return client.post(f"{PAYER}/claims/", json.dumps(body), content_type="application/json",
                       headers={"X-Provider-ID": "PROV-001", "X-API-Key": "payer-key", **headers})


def review_over() -> None:
    PayerClaim.objects.update(review_due_at=timezone.now())


def test_a_covered_claim_is_approved_at_once(client: Any) -> None:
    response = submit(client, COVERED)
    body = response.json()
    assert response.status_code == 201
    assert body["success"] is True and body["status"] == "approved" and body["auto_approved"]
    claim = body["claim"]
    assert claim["claim_id"].startswith("CLM-")
    assert claim["expected_payment"] == 1000.00 and claim["patient_responsibility"] == 250.00
    for field in ("patient_name", "insurance_id", "diagnosis_code", "procedure_code", "amount",
                  "status", "coverage_validated", "coverage_message", "auto_approved",
                  "submitted_date", "processed_date", "payor_id", "notes"):
        assert field in claim
    assert isinstance(body["processing_time_ms"], int)


def test_an_excluded_code_goes_under_review(client: Any) -> None:
    body = submit(client, EXCLUDED).json()
    assert body["status"] == "under_review" and body["auto_approved"] is False
    claim = body["claim"]
    assert claim["coverage_message"] == "Procedure code 15776 is excluded from coverage"
    assert claim["review_reason"] and claim["estimated_review_time"] and claim["reviewer_contact"]
    assert claim["coverage_validated"] is False


def test_any_157_procedure_is_excluded(client: Any) -> None:
    assert submit(client, {**COVERED, "procedure_code": "15777"}).json()["status"] == \
        "under_review"


def test_an_unknown_insurance_id_is_404_with_suggestions(client: Any) -> None:
    response = submit(client, {**COVERED, "insurance_id": "BC-999-999"})
    body = response.json()
    assert response.status_code == 404
    assert body["error_code"] == "INSURANCE_NOT_FOUND" and body["suggestions"]
    assert body["claim_id"] is None
    assert submit(client, {**COVERED, "insurance_id": "INVALID-123"}).status_code == 404


def test_missing_fields_are_400(client: Any) -> None:
    response = submit(client, {"patient_name": "John Doe"})
    body = response.json()
    assert response.status_code == 400 and body["error_code"] == "MISSING_FIELDS"
    assert "insurance_id" in body["error"] and body["suggestions"]


@pytest.mark.parametrize("amount", ["abc", "-5", "0"])
def test_a_bad_amount_is_400(client: Any, amount: str) -> None:
    response = submit(client, {**COVERED, "amount": amount})
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_AMOUNT"


def test_an_empty_api_key_is_refused(client: Any) -> None:
    assert submit(client, COVERED, **{"X-API-Key": " "}).status_code == 401


def test_real_icd10_codes_pass(client: Any) -> None:
    assert submit(client, {**COVERED, "diagnosis_code": "S72.001A"}).status_code == 201


def test_get_claim_answers_the_current_status(client: Any) -> None:
    claim_id = submit(client, COVERED).json()["claim"]["claim_id"]
    response = client.get(f"{PAYER}/claims/{claim_id}/")
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert response.json()["claim"]["status"] == "approved"
    assert client.get(f"{PAYER}/claims/CLM-NOPE/").status_code == 404


def test_get_settles_a_review_whose_delay_passed(client: Any) -> None:
    claim_id = submit(client, EXCLUDED).json()["claim"]["claim_id"]
    assert client.get(f"{PAYER}/claims/{claim_id}/").json()["claim"]["status"] == "under_review"
    review_over()
    claim = client.get(f"{PAYER}/claims/{claim_id}/").json()["claim"]
    assert claim["status"] == "approved" and claim["expected_payment"] == 4000.0


def test_a_review_rejects_amounts_over_10000(client: Any) -> None:
    claim_id = submit(client, {**EXCLUDED, "amount": "12500.00"}).json()["claim"]["claim_id"]
    review_over()
    assert settle_due_claims() == 1
    assert client.get(f"{PAYER}/claims/{claim_id}/").json()["claim"]["status"] == "rejected"


def test_the_review_delay_knob_sets_when_the_review_ends(client: Any, settings: Any) -> None:
    settings.SANDBOX_REVIEW_DELAY = 0
    claim_id = submit(client, EXCLUDED).json()["claim"]["claim_id"]
    assert client.get(f"{PAYER}/claims/{claim_id}/").json()["claim"]["status"] == "approved"


def test_webhooks_can_be_registered_over_http(client: Any) -> None:
    response = client.post(f"{PAYER}/webhooks/register", json.dumps(
        {"provider_id": "PROV-001", "webhook_url": HOOK, "secret_key": SECRET}),
        content_type="application/json")
    assert response.status_code == 201
    assert "secret" not in json.dumps(response.json())
    assert client.post(f"{PAYER}/webhooks/register", json.dumps({"provider_id": "P"}),
                       content_type="application/json").status_code == 400


@responses.activate
def test_a_settled_review_sends_a_signed_status_update(client: Any) -> None:
    responses.post(HOOK, json={"received": True})
    register_webhook("PROV-001", HOOK, SECRET)
    claim_id = submit(client, EXCLUDED).json()["claim"]["claim_id"]
    review_over()
    settle_due_claims()
    assert deliver_due_webhooks() == 1

    sent = responses.calls[0].request
    raw = sent.body
    timestamp = sent.headers["X-Webhook-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert sent.headers["X-Webhook-Signature"] == sign_header(SECRET, timestamp, raw)
    payload = json.loads(raw)
    signature = payload.pop("webhook_signature")
    assert signature == sign_body(SECRET, payload) and signature.startswith("sha256=")
    assert sent.headers["X-Webhook-Id"] == payload["event_id"]
    assert payload["event_type"] == "claim_status_update" and payload["claim_id"] == claim_id
    assert payload["previous_status"] == "under_review" and payload["new_status"] == "approved"
    for field in ("timestamp", "message", "processed_by", "processed_date", "patient_name",
                  "insurance_id", "provider_id", "amount", "coverage_validated",
                  "coverage_message", "auto_approved"):
        assert field in payload
    assert set(payload["payment_details"]) == {"approved_amount", "patient_responsibility",
                                               "expected_payment_date", "payment_method"}
    assert WebhookDelivery.objects.get().status == "delivered"


@responses.activate
def test_a_failed_delivery_is_retried_three_times(client: Any, settings: Any) -> None:
    settings.SANDBOX_WEBHOOK_BACKOFF = 0
    responses.post(HOOK, status=500)
    register_webhook("PROV-001", HOOK, SECRET)
    submit(client, EXCLUDED)
    review_over()
    settle_due_claims()
    for _ in range(6):
        deliver_due_webhooks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 4 and delivery.status == "failed"
    assert len(responses.calls) == 4
    # Every retry sends the same body (only the header signature's timestamp changes).
    assert len({call.request.body for call in responses.calls}) == 1


@responses.activate
def test_retries_back_off(client: Any, settings: Any) -> None:
    settings.SANDBOX_WEBHOOK_BACKOFF = 60
    responses.post(HOOK, status=503)
    register_webhook("PROV-001", HOOK, SECRET)
    submit(client, EXCLUDED)
    review_over()
    settle_due_claims()
    deliver_due_webhooks()
    deliver_due_webhooks()
    assert len(responses.calls) == 1
    assert WebhookDelivery.objects.get().next_attempt_at > timezone.now()


def test_no_webhook_is_queued_without_a_registration(client: Any) -> None:
    submit(client, EXCLUDED)
    review_over()
    assert settle_due_claims() == 1
    assert not WebhookDelivery.objects.exists()


def test_the_demo_patients_get_their_documented_payer_outcome(client: Any) -> None:
    for p in demo_data.DEMO_PATIENTS:
        response = submit(client, demo_data.payer_claim(p))
        expected = {"approved": (201, "approved"), "not_found": (404, None),
                    "review_then_approved": (201, "under_review"),
                    "review_then_rejected": (201, "under_review")}[p["payer_outcome"]]
        assert (response.status_code, response.json().get("status")) == expected, p
    review_over()
    settle_due_claims()
    final = {c.payload["patient_id"]: c.status for c in PayerClaim.objects.all()}
    assert final["ACC1003"] == "approved" and final["ACC1008"] == "rejected"


# --- the strict profile -------------------------------------------------------------------


@responses.activate
def test_strict_signs_over_the_raw_body_only_and_pays_after_approval(
        client: Any, settings: Any) -> None:
    from sandbox.signing import sign_raw

    settings.SANDBOX_PROFILE = "strict"
    responses.post(HOOK, json={"received": True})
    register_webhook("PROV-001", HOOK, SECRET)
    body = submit(client, EXCLUDED).json()
    assert body["status"] == "under_review"
    review_over()
    settle_due_claims()
    assert deliver_due_webhooks() == 2

    update, payment = (call.request for call in responses.calls)
    for sent in (update, payment):
        assert "X-Webhook-Timestamp" not in sent.headers
        assert sent.headers["X-Webhook-Signature"] == sign_raw(SECRET, sent.body)
        assert "webhook_signature" not in json.loads(sent.body)
    assert json.loads(update.body)["new_status"] == "approved"
    paid = json.loads(payment.body)
    assert (paid["event_type"], paid["claim_id"]) == ("payment_processed",
                                                      body["claim"]["claim_id"])
    assert paid["payment_details"]["paid_amount"] == "4000.00"
    assert payment.headers["X-Webhook-Event"] == "payment_processed"


def test_strict_sends_amounts_as_strings_and_the_guides_error_shape(
        client: Any, settings: Any) -> None:
    settings.SANDBOX_PROFILE = "strict"
    claim = submit(client, COVERED).json()["claim"]
    assert (claim["amount"], claim["expected_payment"]) == ("1250.00", "1000.00")
    refused = submit(client, {**COVERED, "insurance_id": "BC-999-999"})
    assert refused.status_code == 404
    assert set(refused.json()) == {"error", "error_code", "claim_id", "suggestions"}


def test_the_profile_header_chooses_per_request(client: Any) -> None:
    claim = submit(client, COVERED, **{"X-Sandbox-Profile": "strict"}).json()["claim"]
    assert claim["amount"] == "1250.00"
    assert submit(client, COVERED).json()["claim"]["amount"] == 1250.0


@pytest.mark.parametrize("fault", ["timeout", "drop"])
def test_a_claim_fault_stores_the_claim_before_losing_the_answer(
        client: Any, settings: Any, fault: str) -> None:
    settings.SANDBOX_HANG_SECONDS = 0  # the test client has no socket to drop or time out
    submit(client, COVERED, **{"X-Sandbox-Claim-Fault": fault})
    assert PayerClaim.objects.count() == 1


def test_the_sandbox_accepts_u07_1_like_the_app(client: Any) -> None:
    response = submit(client, {**COVERED, "diagnosis_code": "U07.1"})
    assert response.status_code == 201
    assert response.json()["claim"]["diagnosis_code"] == "U07.1"
