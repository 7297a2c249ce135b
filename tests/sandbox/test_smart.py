from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from sandbox.credentials import smart_client
from sandbox.models import SmartClaim, SmartSession
from sandbox.smart import member_for, open_session

from .conftest import SMART, basic, smart_login

pytestmark = pytest.mark.django_db
PATIENT = "23025764"


def merge(client: Any, headers: dict, session_id: int, visit: str = "V001") -> Any:
    return client.post(f"{SMART}/api/visit/{session_id}/visit-number/{visit}", headers=headers)


def invoice(patient: str = PATIENT, number: str = "INV1001", visit: str = "V001") -> dict:
    member = member_for(patient)
    return {"invoiceNumber": number, "visitNumber": visit,
            "benefitId": member["benefits"][0]["benefitId"],
            "memberNumber": member["memberNumber"],
            "lines": [{"code": "CONS01", "description": "Consultation", "quantity": 1,
                       "unitPrice": "2500.00"},
                      {"code": "LAB02", "description": "Full blood count", "quantity": 2,
                       "unitPrice": 750}],
            "diagnoses": [{"code": "J20.9", "description": "Acute bronchitis"}],
            "totalAmount": "4000.00"}


def post_claim(client: Any, headers: dict, session_id: int, body: dict,
               param: str = "sesionId") -> Any:
    return client.post(f"{SMART}/api/claims?patientNumber={PATIENT}&{param}={session_id}",
                       json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def active_session(client: Any, smart_headers: dict) -> int:
    session = open_session(PATIENT)
    assert merge(client, smart_headers, session.pk).status_code == 200
    return session.pk


def test_password_grant_answers_the_documented_token(client: Any) -> None:
    token = smart_login(client)
    assert token["token_type"] == "bearer" and token["scope"] == "read write"
    assert token["expires_in"] == 33499
    assert token["refresh_token"] and token["client_id"] == "Himilo_HMIS"
    assert isinstance(token["iat"], int)


def test_bad_user_credentials_are_401(client: Any) -> None:
    client_id, secret = smart_client()
    response = client.post(f"{SMART}/oauth/token", {
        "grant_type": "password", "username": "hmis", "password": "nope"},
        headers={"Authorization": basic(client_id, secret)})
    assert response.status_code == 401


def test_a_refresh_token_works_once(client: Any) -> None:
    first = smart_login(client)
    client_id, secret = smart_client()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    auth = {"Authorization": basic(client_id, secret)}
    second = client.post(f"{SMART}/oauth/token", form, headers=auth)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = client.post(f"{SMART}/oauth/token", form, headers=auth)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_api_calls_need_a_bearer_token(client: Any, db: Any) -> None:
    response = client.get(f"{SMART}/api/visit", {"patientNumber": PATIENT})
    assert response.status_code == 401


def test_visit_lists_pending_sessions(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    open_session("99999999")
    response = client.get(f"{SMART}/api/visit",
                          {"patientNumber": PATIENT, "sessionStatus": "PENDING"},
                          headers=smart_headers)
    assert response.status_code == 200
    [listed] = response.json()
    assert listed["sessionId"] == session.pk and listed["status"] == "PENDING"
    assert listed["patientNumber"] == PATIENT and listed["expiresAt"]


def test_sessions_expire_after_24_hours(client: Any, smart_headers: dict) -> None:
    open_session(PATIENT, opened_at=timezone.now() - timedelta(hours=25))
    response = client.get(f"{SMART}/api/visit", {"patientNumber": PATIENT},
                          headers=smart_headers)
    assert [s["status"] for s in response.json()] == ["EXPIRED"]
    pending = client.get(f"{SMART}/api/visit",
                         {"patientNumber": PATIENT, "sessionStatus": "PENDING"},
                         headers=smart_headers)
    assert pending.json() == []


def test_merging_activates_a_session_once(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    first = merge(client, smart_headers, session.pk)
    assert first.status_code == 200 and first.json()["status"] == "ACTIVE"
    second = merge(client, smart_headers, session.pk, "V002")
    assert second.status_code == 409
    assert "already merged" in second.json()["error"]


def test_merging_an_expired_session_says_to_ask_smart(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT, opened_at=timezone.now() - timedelta(hours=24, minutes=1))
    response = merge(client, smart_headers, session.pk)
    assert response.status_code == 410
    assert response.json()["error"] == "session expired: ask Smart to open a new session"


def test_merging_an_unknown_session_is_404(client: Any, smart_headers: dict) -> None:
    assert merge(client, smart_headers, 987654).status_code == 404


def test_merge_accepts_put_and_get(client: Any, smart_headers: dict) -> None:
    a, b = open_session(PATIENT), open_session(PATIENT)
    assert client.put(f"{SMART}/api/visit/{a.pk}/visit-number/V9",
                      headers=smart_headers).status_code == 200
    assert client.get(f"{SMART}/api/visit/{b.pk}/visit-number/V8",
                      headers=smart_headers).status_code == 200


def test_member_answers_biodata_and_benefits(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    response = client.get(f"{SMART}/api/member",
                          {"patientNumber": PATIENT, "sessionId": session.pk},
                          headers=smart_headers)
    body = response.json()
    assert response.status_code == 200
    assert body["memberNumber"] and body["firstName"] == "JANE" and body["dateOfBirth"]
    assert body["gender"] in ("F", "M") and body["scheme"] and body["insurer"]
    for benefit in body["benefits"]:
        assert {"benefitId", "name", "balance", "limit"} <= set(benefit)
        assert benefit["balance"] <= benefit["limit"]


def test_copayment_needs_all_its_parameters(client: Any, smart_headers: dict) -> None:
    response = client.get(f"{SMART}/api/copayment", {"benefitId": "93181"},
                          headers=smart_headers)
    assert response.status_code == 400
    response = client.get(f"{SMART}/api/copayment", {
        "benefitId": "93181", "providerKey": "SKSP_6122", "visitNumber": "67"},
        headers=smart_headers)
    assert response.status_code == 200
    assert response.json()["copayType"] in ("FIXED", "PERCENTAGE")


def test_a_claim_is_accepted_as_pending(client: Any, smart_headers: dict,
                                        active_session: int) -> None:
    response = post_claim(client, smart_headers, active_session, invoice())
    assert response.status_code == 201
    assert response.json()["status"] == "Pending" and response.json()["claimId"]


def test_claims_accept_session_id_spelled_properly(client: Any, smart_headers: dict,
                                                   active_session: int) -> None:
    response = post_claim(client, smart_headers, active_session, invoice(), "sessionId")
    assert response.status_code == 201


def test_a_duplicate_invoice_is_409(client: Any, smart_headers: dict,
                                    active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice())
    response = post_claim(client, smart_headers, active_session, invoice())
    assert response.status_code == 409
    assert response.json()["error"] == "duplicate invoice"


def test_a_claim_missing_fields_is_400(client: Any, smart_headers: dict,
                                       active_session: int) -> None:
    body = {k: v for k, v in invoice().items() if k != "memberNumber"}
    response = post_claim(client, smart_headers, active_session, body)
    assert response.status_code == 400 and "memberNumber" in response.json()["error"]


def test_a_claim_whose_total_disagrees_is_400(client: Any, smart_headers: dict,
                                              active_session: int) -> None:
    response = post_claim(client, smart_headers, active_session,
                          {**invoice(), "totalAmount": "3999.00"})
    assert response.status_code == 400 and "totalAmount" in response.json()["error"]


def test_a_claim_on_an_unmerged_session_is_refused(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    response = post_claim(client, smart_headers, session.pk, invoice())
    assert response.status_code == 409


def test_claim_status_goes_pending_then_billed(client: Any, smart_headers: dict,
                                               active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice())
    query = {"invoiceNumber": "INV1001", "memberNumber": member_for(PATIENT)["memberNumber"],
             "sessionId": active_session, "visitNumber": "V001"}
    status = client.get(f"{SMART}/api/claim-status", query, headers=smart_headers)
    assert status.status_code == 200 and status.json()["status"] == "Pending"
    SmartClaim.objects.update(billed_at=timezone.now())
    status = client.get(f"{SMART}/api/claim-status", query, headers=smart_headers)
    assert status.json()["status"] == "Billed"


def test_invoices_ending_in_7_are_cancelled(client: Any, smart_headers: dict,
                                            active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice(number="INV1007"))
    status = client.get(f"{SMART}/api/claim-status", {"invoiceNumber": "INV1007"},
                        headers=smart_headers)
    assert status.json()["status"] == "Cancelled"


def test_an_unknown_invoice_is_404(client: Any, smart_headers: dict) -> None:
    status = client.get(f"{SMART}/api/claim-status", {"invoiceNumber": "NOPE"},
                        headers=smart_headers)
    assert status.status_code == 404


def test_a_late_diagnosis_is_recorded(client: Any, smart_headers: dict,
                                      active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice())
    body = {"invoiceNumber": "INV1001", "diagnoses": [{"code": "E11.9", "description": "T2DM"}]}
    response = client.post(f"{SMART}/api/clinic-record", json.dumps(body),
                           content_type="application/json", headers=smart_headers)
    assert response.status_code == 200
    assert SmartClaim.objects.get().late_diagnoses == body["diagnoses"]


def test_a_late_diagnosis_without_fields_is_400(client: Any, smart_headers: dict) -> None:
    response = client.post(f"{SMART}/api/clinic-record", json.dumps({"invoiceNumber": "X"}),
                           content_type="application/json", headers=smart_headers)
    assert response.status_code == 400


def test_the_desk_lets_an_admin_open_a_session(client_for: Any, ada: Any) -> None:
    client = client_for(ada)
    assert client.get(f"{SMART}/desk/").status_code == 200
    response = client.post(f"{SMART}/desk/", {"patient_number": PATIENT})
    assert response.status_code == 302
    page = client.get(f"{SMART}/desk/")
    assert PATIENT in page.content.decode() and "PENDING" in page.content.decode()


def test_the_desk_has_the_sites_layout_and_confirms_the_session_it_opened(
        client_for: Any, ada: Any) -> None:
    client = client_for(ada)
    page = client.post(f"{SMART}/desk/", {"patient_number": PATIENT}, follow=True)
    text = page.content.decode()
    opened = SmartSession.objects.get(patient_number=PATIENT)
    assert f"Opened session {opened.pk} for patient file {PATIENT}: PENDING until" in text
    assert 'class="skip-link"' in text and "<title>Smart desk (sandbox) · revcycle</title>" \
        in text  # templates/base.html


def test_the_desk_is_forbidden_to_billers(client_for: Any, alice: Any) -> None:
    assert client_for(alice).get(f"{SMART}/desk/").status_code == 403


def test_the_desk_sends_strangers_to_log_in(client: Any, db: Any, settings: Any) -> None:
    # A path, so the test does not depend on the project's login URL name being routed.
    settings.LOGIN_URL = "/accounts/login/"
    response = client.get(f"{SMART}/desk/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# ---- the strict profile: Smart as the document and Spring Boot allow ------------------

STRICT = {"X-Sandbox-Profile": "strict"}
SPRING_KEYS = {"timestamp", "status", "error", "message", "path"}


def test_strict_sessions_use_the_documents_words_and_epoch_milliseconds(
        client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    response = client.get(f"{SMART}/api/visit", {"patientNumber": PATIENT,
                                                  "sessionStatus": "PENDING"},
                          headers={**smart_headers, **STRICT})
    [row] = response.json()
    assert row["id"] == str(session.pk) and row["sessionStatus"] == "PENDING"
    assert row["sessionStartDate"] == int(session.opened_at.timestamp() * 1000)
    assert "status" not in row and "expiresAt" not in row


def test_strict_expiry_is_a_plain_400_in_springs_body(client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT, opened_at=timezone.now() - timedelta(hours=25))
    response = merge(client, {**smart_headers, **STRICT}, session.pk)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == SPRING_KEYS and body["error"] == "Bad Request"
    assert "expire" not in body["message"].lower()


def test_strict_merge_conflict_carries_only_the_reason_phrase(
        client: Any, smart_headers: dict) -> None:
    session = open_session(PATIENT)
    merge(client, smart_headers, session.pk)
    response = merge(client, {**smart_headers, **STRICT}, session.pk, "V002")
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict" and response.json()["message"] == ""


def test_strict_member_uses_payer_name_surname_amount_and_strings(
        client: Any, smart_headers: dict, active_session: int) -> None:
    response = client.get(f"{SMART}/api/member", {"patientNumber": PATIENT,
                                                   "sessionId": active_session},
                          headers={**smart_headers, **STRICT})
    data = response.json()
    plain = member_for(PATIENT)
    assert data["payerName"] == plain["insurer"] and data["surname"] == plain["lastName"]
    assert data["middleName"] is None and "lastName" not in data
    benefit = data["benefits"][0]
    assert benefit["amount"] == f"{plain['benefits'][0]['limit']:.2f}"
    assert isinstance(benefit["balance"], str) and isinstance(benefit["benefitId"], str)


def test_strict_duplicate_invoice_is_a_409_that_does_not_say_duplicate(
        client: Any, smart_headers: dict, active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice())
    response = post_claim(client, {**smart_headers, **STRICT}, active_session, invoice())
    assert response.status_code == 409
    body = response.json()
    assert set(body) == SPRING_KEYS and body["error"] == "Conflict"
    assert "duplicate" not in body["message"].lower()


def test_a_timeout_fault_stores_the_claim_before_losing_the_answer(
        client: Any, smart_headers: dict, active_session: int) -> None:
    # The test client has no socket, so "drop" falls back to holding the answer; 0 s here.
    response = post_claim(client, {**smart_headers, "X-Sandbox-Claim-Fault": "timeout",
                                   "X-Sandbox-Hang-Seconds": "0"}, active_session, invoice())
    assert response.status_code == 201
    assert SmartClaim.objects.filter(invoice_number="INV1001").count() == 1


def test_claim_status_answers_404_while_smart_is_still_listing_the_claim(
        client: Any, smart_headers: dict, active_session: int) -> None:
    post_claim(client, smart_headers, active_session, invoice())
    SmartClaim.objects.update(created_at=timezone.now() - timedelta(seconds=5))
    url = f"{SMART}/api/claim-status"
    early = client.get(url, {"invoiceNumber": "INV1001"},
                       headers={**smart_headers, "X-Sandbox-Index-Delay": "60"})
    later = client.get(url, {"invoiceNumber": "INV1001"},
                       headers={**smart_headers, "X-Sandbox-Index-Delay": "2"})
    assert early.status_code == 404 and later.status_code == 200


def test_an_unknown_profile_is_refused_by_the_knob_store(db: Any) -> None:
    from sandbox.knobs import set_knobs

    with pytest.raises(ValueError):
        set_knobs(profile="lenient")
    assert set_knobs(profile="strict").profile == "strict"
