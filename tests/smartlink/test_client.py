import base64
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from revcycle import errors
from smartlink import client
from tests.smartlink.conftest import BASE, TOKEN_URL, calls_to, token_json


def _query(call):
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def _form(call):
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_it_lists_pending_sessions_with_a_password_grant_token(api, smart):
    api.add(responses.GET, f"{BASE}/api/visit", json=[
        {"sessionId": 62863, "patientNumber": "23025764", "status": "PENDING",
         "openedAt": "2026-01-05T08:00:00+00:00", "expiresAt": "2026-01-06T08:00:00+00:00"},
        {"sessionId": 62000, "patientNumber": "23025764", "status": "ACTIVE"},
    ])

    sessions = client.pending_sessions(smart, "23025764")

    assert [s.session_id for s in sessions] == ["62863"]
    assert sessions[0].expires_at.hour == 8
    token_call = calls_to(api, "oauth/token")[0]
    form = _form(token_call)
    assert form["grant_type"] == "password"
    assert (form["username"], form["password"]) == ("hmis", "hmis-password")
    basic = base64.b64encode(b"Himilo_HMIS:smart-secret").decode()
    assert token_call.request.headers["Authorization"] == f"Basic {basic}"
    visit_call = calls_to(api, "api/visit")[0]
    assert _query(visit_call) == {"patientNumber": "23025764", "sessionStatus": "PENDING"}
    assert visit_call.request.headers["Authorization"] == "Bearer access-1"


def test_it_refreshes_the_token_with_the_refresh_grant_after_a_401(api, smart):
    api.add(responses.GET, f"{BASE}/api/visit", json=[])
    client.pending_sessions(smart, "1")
    api.replace(responses.POST, TOKEN_URL, json=token_json("access-2", "refresh-2"))
    api.replace(responses.GET, f"{BASE}/api/visit", status=401, json={"error": "invalid_token"})
    api.add(responses.GET, f"{BASE}/api/visit", json=[])

    client.pending_sessions(smart, "1")

    token_calls = calls_to(api, "oauth/token")
    assert [_form(c)["grant_type"] for c in token_calls] == ["password", "refresh_token"]
    assert _form(token_calls[1])["refresh_token"] == "refresh-1"
    visit_calls = calls_to(api, "api/visit")
    assert [c.request.headers["Authorization"] for c in visit_calls] == [
        "Bearer access-1", "Bearer access-1", "Bearer access-2"]


def test_merge_posts_the_session_and_visit_number_in_the_path(api, smart):
    api.add(responses.POST, f"{BASE}/api/visit/62863/visit-number/AKHILS001",
            json={"sessionId": 62863, "status": "ACTIVE", "visitNumber": "AKHILS001"})

    merged = client.merge_session(smart, "62863", "AKHILS001")

    assert (merged.status, merged.visit_number) == ("ACTIVE", "AKHILS001")
    call = calls_to(api, "api/visit/62863/visit-number/AKHILS001", "POST")[0]
    assert call.request.headers["Authorization"] == "Bearer access-1"


def test_member_reads_biodata_and_benefits_with_balances(api, smart):
    api.add(responses.GET, f"{BASE}/api/member", json={
        "memberNumber": "SAMPLETEST502", "firstName": "AMINA", "lastName": "OTIENO",
        "benefits": [{"benefitId": 93181, "name": "OUTPATIENT", "limit": 100000.0,
                      "balance": "81234.50"}]})

    member = client.member(smart, "23025764", "62863")

    assert member.member_number == "SAMPLETEST502"
    assert member.benefits[0].benefit_id == "93181"
    assert member.benefits[0].balance == Decimal("81234.50")
    assert _query(calls_to(api, "api/member")[0]) == {"patientNumber": "23025764",
                                                       "sessionId": "62863"}


def test_copayment_sends_the_benefit_provider_key_and_visit_number(api, smart):
    api.add(responses.GET, f"{BASE}/api/copayment",
            json={"copayType": "PERCENTAGE", "copayAmount": 10.0})

    copay = client.copayment(smart, "93181", "SKSP_6122", "67")

    assert copay.for_total(Decimal("3001.00")) == Decimal("300.10")
    assert _query(calls_to(api, "api/copayment")[0]) == {
        "benefitId": "93181", "providerKey": "SKSP_6122", "visitNumber": "67"}


def test_post_claim_sends_both_sesionId_and_sessionId_and_the_json_body(api, smart):
    api.add(responses.POST, f"{BASE}/api/claims", status=201,
            json={"claimId": "SC1", "status": "Pending"})
    body = {"invoiceNumber": "INV1", "lines": [{"code": "C1"}], "totalAmount": "10.00"}

    claim_id = client.post_claim(smart, "23025764", "62863", body)

    assert claim_id == "SC1"
    call = calls_to(api, "api/claims", "POST")[0]
    assert _query(call) == {"patientNumber": "23025764", "sesionId": "62863",
                            "sessionId": "62863"}
    assert json.loads(call.request.body) == body
    assert call.request.headers["Authorization"] == "Bearer access-1"


def test_claim_status_sends_the_invoice_member_session_and_visit(api, smart):
    api.add(responses.GET, f"{BASE}/api/claim-status", json={"status": "Billed"})

    found = client.claim_status(smart, "Invoce1500835", "SAMPLETEST502", "93164", "87")

    assert found.plain == "billed"
    assert _query(calls_to(api, "api/claim-status")[0]) == {
        "invoiceNumber": "Invoce1500835", "memberNumber": "SAMPLETEST502",
        "sessionId": "93164", "visitNumber": "87"}


def test_send_diagnosis_posts_the_clinic_record(api, smart):
    api.add(responses.POST, f"{BASE}/api/clinic-record", json={"status": "Received"})

    client.send_diagnosis(smart, {"invoiceNumber": "INV1", "diagnoses": [{"code": "J06.9"}]})

    call = calls_to(api, "api/clinic-record", "POST")[0]
    assert json.loads(call.request.body)["diagnoses"] == [{"code": "J06.9"}]


def test_member_and_benefits_are_read_in_the_documents_words(api, smart):
    api.add(responses.GET, f"{BASE}/api/member", json={
        "memberNumber": "SAMPLETEST502", "firstName": "AMINA", "surname": "OTIENO",
        "payerName": "BRITAM", "schemeName": "KCB STAFF", "middleName": None, "extra": {"x": 1},
        "benefits": [{"benefitId": "93181", "benefitName": "OUTPATIENT", "amount": "100000.00",
                      "balance": "81,234.50", "currency": None, "policyNumber": "P1"},
                     {"benefitId": None, "name": "no id: skipped"}]})

    member = client.member(smart, "23025764", "62863")

    assert (member.first_name, member.last_name) == ("AMINA", "OTIENO")
    assert (member.insurer, member.scheme) == ("BRITAM", "KCB STAFF")
    assert [(b.benefit_id, b.name, b.limit, b.balance) for b in member.benefits] == [
        ("93181", "OUTPATIENT", Decimal("100000.00"), Decimal("81234.50"))]


SPRING_409 = {"timestamp": "2026-01-05T08:00:00.000+00:00", "status": 409, "error": "Conflict",
              "message": "Invoice INV1 already exists", "path": "/providerapi-dev/api/claims"}


@pytest.mark.parametrize(("body", "shown"), [
    (SPRING_409, "Invoice INV1 already exists"),
    ({**SPRING_409, "message": ""}, "Smart answered HTTP 409 Conflict without an explanation."),
    ({**SPRING_409, "message": "No message available"},
     "Smart answered HTTP 409 Conflict without an explanation."),
    ({"error": "duplicate invoice"}, "duplicate invoice"),
    ({"error": "invalid_grant", "error_description": "Bad credentials"}, "Bad credentials"),
])
def test_an_error_shows_smarts_explanation_never_a_bare_reason_phrase(api, smart, body, shown):
    api.add(responses.POST, f"{BASE}/api/claims", status=409, json=body)

    with pytest.raises(errors.Conflict) as caught:
        client.post_claim(smart, "23025764", "62863", {"invoiceNumber": "INV1"})

    assert caught.value.message == shown and str(caught.value) == shown
    assert caught.value.body == body
