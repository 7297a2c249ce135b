from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from sandbox import demo_data
from sandbox.credentials import integrex_client
from sandbox.integrex import claim_scenario
from sandbox.models import IntegrexTicket, SandboxToken
from sandbox.scenarios import CLAIM_LINE_FIELDS, DISCOVERY_FIELDS, norm_key

from .conftest import INTEGREX, basic

pytestmark = pytest.mark.django_db
CLAIM = demo_data.claim_status_request(demo_data.DEMO_PATIENTS[0])
DISCOVERY = demo_data.discovery_request(demo_data.DEMO_PATIENTS[0])


def post(client: Any, path: str, body: dict, headers: dict, **extra: str) -> Any:
    return client.post(f"{INTEGREX}/{path}", json.dumps(body), content_type="application/json",
                       headers={**headers, **extra})


def result(client: Any, path: str, body: dict, headers: dict) -> Any:
    ticket = post(client, path, body, headers, **{"X-Sandbox-Ready-After": "0"}).json()["id"]
    return client.get(f"{INTEGREX}/{path}", {"id": ticket}, headers=headers)


def test_health_needs_no_token(client: Any) -> None:
    response = client.get(f"{INTEGREX}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_auth_answers_a_bearer_token_for_the_quickstart_client(client: Any) -> None:
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client())})
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["expires_in"] == 3599 and body["scope"] == "" and body["token_type"] == "bearer"


def test_auth_rejects_a_wrong_secret_with_401(client: Any) -> None:
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic("TestClient", "wrong")})
    assert response.status_code == 401


def test_auth_honours_the_token_lifetime_knob(client: Any, settings: Any) -> None:
    settings.SANDBOX_TOKEN_LIFETIME = 60
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client())})
    assert response.json()["expires_in"] == 60
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client()),
                                    "X-Sandbox-Token-Lifetime": "5"})
    assert response.json()["expires_in"] == 5


def test_post_answers_an_id(client: Any, integrex_headers: dict) -> None:
    response = post(client, "claim-info", CLAIM, integrex_headers)
    assert response.status_code == 200
    assert IntegrexTicket.objects.filter(pk=response.json()["id"]).exists()


def test_a_missing_token_is_401(client: Any) -> None:
    response = post(client, "claim-info", CLAIM, {"env": "T"})
    assert response.status_code == 401


def test_an_expired_token_is_401(client: Any, integrex_headers: dict, integrex_token: str
                                 ) -> None:
    SandboxToken.objects.filter(access_token=integrex_token).update(expires_at=timezone.now())
    assert post(client, "claim-info", CLAIM, integrex_headers).status_code == 401


def test_a_revoked_token_is_401(client: Any, integrex_headers: dict) -> None:
    assert client.post("/sandbox/revoke-tokens").json()["revoked"] == 1
    assert post(client, "claim-info", CLAIM, integrex_headers).status_code == 401


def test_revoke_every_request_knob_revokes_tokens(client: Any, integrex_headers: dict) -> None:
    response = post(client, "claim-info", CLAIM, integrex_headers,
                    **{"X-Sandbox-Revoke-Every": "1"})
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


@pytest.mark.parametrize("env", ["P", None])
def test_production_or_no_env_header_is_402(client: Any, integrex_token: str, env: str | None
                                            ) -> None:
    headers = {"Authorization": f"Bearer {integrex_token}"}
    if env:
        headers["env"] = env
    response = post(client, "claim-info", CLAIM, headers)
    assert response.status_code == 402
    assert "error" in response.json()


def test_a_bad_date_is_400_with_a_clear_message(client: Any, integrex_headers: dict) -> None:
    response = post(client, "claim-info", {**CLAIM, "patientDob": "01/02/1970"},
                    integrex_headers)
    assert response.status_code == 400
    assert "patientDob" in response.json()["error"] and "yyyy-mm-dd" in response.json()["error"]


def test_a_missing_required_field_is_400(client: Any, integrex_headers: dict) -> None:
    body = {k: v for k, v in CLAIM.items() if k != "payerId"}
    response = post(client, "claim-info", body, integrex_headers)
    assert response.status_code == 400
    assert "payerId" in response.json()["error"]


def test_discovery_requires_begin_dos(client: Any, integrex_headers: dict) -> None:
    body = {k: v for k, v in DISCOVERY.items() if k != "beginDos"}
    response = post(client, "insurance-discovery", body, integrex_headers)
    assert response.status_code == 400
    assert "beginDos" in response.json()["error"]


def test_keys_are_matched_leniently(client: Any, integrex_headers: dict) -> None:
    body = {("payerid" if k == "payerId" else "Patient_Dob" if k == "patientDob" else k): v
            for k, v in CLAIM.items()}
    assert post(client, "claim-info", body, integrex_headers).status_code == 200


def test_get_answers_202_until_the_ticket_is_ready(client: Any, integrex_headers: dict) -> None:
    ticket = post(client, "claim-info", CLAIM, integrex_headers,
                  **{"X-Sandbox-Ready-After": "600"}).json()["id"]
    response = client.get(f"{INTEGREX}/claim-info", {"id": ticket}, headers=integrex_headers)
    assert response.status_code == 202
    assert response.json() == {"status": "processing"}
    IntegrexTicket.objects.filter(pk=ticket).update(ready_at=timezone.now())
    response = client.get(f"{INTEGREX}/claim-info", {"id": ticket}, headers=integrex_headers)
    assert response.status_code == 200


def test_get_accepts_the_id_in_a_json_body(client: Any, integrex_headers: dict) -> None:
    ticket = post(client, "claim-info", CLAIM, integrex_headers,
                  **{"X-Sandbox-Ready-After": "0"}).json()["id"]
    response = client.generic("GET", f"{INTEGREX}/claim-info", json.dumps({"id": ticket}),
                              content_type="application/json", headers=integrex_headers)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_get_without_an_id_is_400(client: Any, integrex_headers: dict) -> None:
    assert client.get(f"{INTEGREX}/claim-info", headers=integrex_headers).status_code == 400


def test_claim_status_lines_carry_every_spec_field(client: Any, integrex_headers: dict) -> None:
    response = result(client, "claim-info", CLAIM, integrex_headers)
    lines = response.json()
    assert response.status_code == 200
    assert 1 <= len(lines) <= 3
    for i, line in enumerate(lines, start=1):
        assert set(CLAIM_LINE_FIELDS) <= set(line)
        assert line["svcLine"] == i
        assert line["internalAccountNumber"] == "ACC1000"
        assert line["chargeAmt"] == "1250.00"
        assert line["categoryCode"] == "F1"


def test_claim_status_is_deterministic(client: Any, integrex_headers: dict) -> None:
    first = result(client, "claim-info", CLAIM, integrex_headers).json()
    second = result(client, "claim-info", CLAIM, integrex_headers).json()
    assert first == second


@pytest.mark.parametrize(("digit", "scenario", "category"), [
    ("0", "paid", "F1"), ("4", "denied", "F2"), ("6", "pending", "P1"),
    ("7", "not_found", "A4"), ("8", "rejected", "A7"), ("9", "adjusted", "F3"),
])
def test_the_account_numbers_last_digit_picks_the_scenario(
        client: Any, integrex_headers: dict, digit: str, scenario: str, category: str) -> None:
    body = {**CLAIM, "trackingId1": f"ACC100{digit}"}
    assert claim_scenario(body) == scenario
    lines = result(client, "claim-info", body, integrex_headers).json()
    assert {line["categoryCode"] for line in lines} == {category}
    if scenario == "denied":
        assert lines[0]["reasonSourceCd3"] in {"50", "96", "197"}
        assert lines[0]["reasonSourceCd2"] and lines[0]["reasonSourceCdDescTxt3"]
    if scenario == "paid":
        assert lines[0]["paymentAmt"] and lines[0]["checkNumber"]


def test_discovery_coverages_carry_every_spec_field(client: Any, integrex_headers: dict) -> None:
    coverages = result(client, "insurance-discovery", DISCOVERY, integrex_headers).json()
    assert len(coverages) == 1
    assert set(DISCOVERY_FIELDS) <= set(coverages[0])
    assert "sub.MemberID" in coverages[0] and "oop($)IndivInNetwork" in coverages[0]


@pytest.mark.parametrize(("account", "count"), [("ACC1003", 1), ("ACC1006", 2), ("ACC1008", 0)])
def test_discovery_finds_zero_one_or_two_coverages(client: Any, integrex_headers: dict,
                                                   account: str, count: int) -> None:
    body = {**DISCOVERY, "internalAccountNumber1": account}
    assert len(result(client, "insurance-discovery", body, integrex_headers).json()) == count


def test_discovery_variant_nine_garbles_keys_but_keeps_them_readable(
        client: Any, integrex_headers: dict) -> None:
    body = {**DISCOVERY, "internalAccountNumber1": "ACC1009"}
    coverage = result(client, "insurance-discovery", body, integrex_headers).json()[0]
    assert "oop($) IndivInNetworkRemain ing" in coverage
    assert "oop($)IndivInNetworkRemaining" not in coverage
    assert {norm_key(k) for k in DISCOVERY_FIELDS} <= {norm_key(k) for k in coverage}


def test_a_claim_id_is_not_a_discovery_id(client: Any, integrex_headers: dict) -> None:
    ticket = post(client, "claim-info", CLAIM, integrex_headers).json()["id"]
    response = client.get(f"{INTEGREX}/insurance-discovery", {"id": ticket},
                          headers=integrex_headers)
    assert response.status_code == 400


def test_an_answer_normalises_each_request_key_once(monkeypatch: Any) -> None:
    # Each field an answer reads normalised every key of the request again: a dozen fields
    # times sixteen keys, each a regex substitution, on every GET the engines send.
    from sandbox import scenarios

    calls: list[str] = []
    real_sub = scenarios.re.sub
    def counted_sub(pattern: str, repl: str, text: str, *args: Any) -> str:
        calls.append(text)
        return real_sub(pattern, repl, text, *args)

    monkeypatch.setattr(scenarios.re, "sub", counted_sub)
    first = scenarios.claim_status_lines(CLAIM, timezone.localdate())
    calls.clear()
    second = scenarios.claim_status_lines(CLAIM, timezone.localdate())
    assert second == first
    assert calls == []
