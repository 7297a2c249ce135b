"""Tokens: the right grant, one token shared by threads and processes, refreshed early,
refreshed once on 401, and never written to a log."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from django.db import connections
from django.utils import timezone

from revcycle import api, errors, oauth
from revcycle.models import Connection, OAuthToken

INTEGREX_TOKEN = "https://integrex.test/api/v2/auth"
INTEGREX_CLAIMS = "https://integrex.test/api/v2/claims"
SMART_TOKEN = "https://smart.test/providerapi-dev/oauth/token"
SMART_VISITS = "https://smart.test/providerapi-dev/visits"


class TokenServer:
    """Issues tok-1, tok-2, ... and records each token request's form."""

    def __init__(self, refresh_status: int = 200) -> None:
        self.forms: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.refresh_status = refresh_status
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            form = {k: v[0] for k, v in parse_qs(request.body).items()}
            self.forms.append(form)
            self.headers.append(dict(request.headers))
            n = len(self.forms)
        if form.get("grant_type") == "refresh_token" and self.refresh_status != 200:
            return self.refresh_status, {}, json.dumps({"error": "invalid_grant"})
        body = {"access_token": f"tok-{n}", "token_type": "bearer", "expires_in": 3600}
        if form.get("grant_type") in ("password", "refresh_token"):
            body["refresh_token"] = f"refresh-{n}"
        return 200, {}, json.dumps(body)

    @property
    def grants(self) -> list[str]:
        return [form.get("grant_type", "") for form in self.forms]


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def tokens(mocked: responses.RequestsMock) -> TokenServer:
    server = TokenServer()
    mocked.add_callback(responses.POST, INTEGREX_TOKEN, callback=server)
    mocked.add_callback(responses.POST, SMART_TOKEN, callback=server)
    return server


def _expire_everywhere(conn: Connection, seconds_left: float) -> None:
    OAuthToken.objects.filter(connection=conn).update(
        expires_at=timezone.now() + timedelta(seconds=seconds_left))
    oauth._cache.clear()


def test_integrex_asks_for_a_client_credentials_token_with_basic_auth(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    mocked.get(INTEGREX_CLAIMS, json={"ok": True})
    api.call(integrex, "GET", "claims")
    expected = base64.b64encode(b"TestClient:s3cret-client").decode()
    assert tokens.headers[0]["Authorization"] == f"Basic {expected}"
    assert tokens.forms == [{"grant_type": "client_credentials"}]


def test_integrex_calls_carry_the_bearer_token_and_the_env_header(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    call = mocked.get(INTEGREX_CLAIMS, json={"ok": True})
    response = api.call(integrex, "GET", "claims")
    assert response.status == 200 and response.data == {"ok": True}
    sent = call.calls[0].request.headers
    assert sent["Authorization"] == "Bearer tok-1"
    assert sent["env"] == "T"


def test_a_production_connection_sends_env_p(mocked: Any, tokens: TokenServer,
                                             integrex: Connection) -> None:
    integrex.environment = "P"
    integrex.save()
    call = mocked.get(INTEGREX_CLAIMS, json={})
    api.call(integrex, "GET", "claims")
    assert call.calls[0].request.headers["env"] == "P"


def test_smart_logs_in_with_the_password_grant(mocked: Any, tokens: TokenServer,
                                              smart: Connection) -> None:
    call = mocked.get(SMART_VISITS, json=[])
    api.call(smart, "GET", "visits")
    form = tokens.forms[0]
    assert form["grant_type"] == "password"
    assert (form["username"], form["password"]) == ("hmis", "hmis-password")
    assert "env" not in call.calls[0].request.headers
    assert call.calls[0].request.headers["Authorization"] == "Bearer tok-1"


def test_many_requests_share_one_token(mocked: Any, tokens: TokenServer,
                                       integrex: Connection) -> None:
    mocked.get(INTEGREX_CLAIMS, json={})
    for _ in range(5):
        api.call(integrex, "GET", "claims")
    assert len(tokens.forms) == 1


@pytest.mark.django_db(transaction=True)
def test_eight_threads_making_five_calls_each_ask_for_one_token(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    mocked.get(INTEGREX_CLAIMS, json={})
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait()
            for _ in range(5):
                api.call(integrex, "GET", "claims")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert len(mocked.calls) == 1 + 40
    assert len(tokens.forms) == 1


def test_another_process_reuses_the_stored_token(mocked: Any, tokens: TokenServer,
                                                 integrex: Connection) -> None:
    call = mocked.get(INTEGREX_CLAIMS, json={})
    api.call(integrex, "GET", "claims")
    oauth._cache.clear()  # a new process: nothing in memory, the token in the database
    api.call(integrex, "GET", "claims")
    assert len(tokens.forms) == 1
    assert call.calls[1].request.headers["Authorization"] == "Bearer tok-1"
    assert OAuthToken.objects.get(connection=integrex).requests_made == 1


def test_a_token_within_the_refresh_margin_is_replaced(mocked: Any, tokens: TokenServer,
                                                       integrex: Connection) -> None:
    call = mocked.get(INTEGREX_CLAIMS, json={})
    api.call(integrex, "GET", "claims")
    _expire_everywhere(integrex, oauth.REFRESH_MARGIN.total_seconds() - 10)
    api.call(integrex, "GET", "claims")
    assert len(tokens.forms) == 2
    assert call.calls[1].request.headers["Authorization"] == "Bearer tok-2"


def test_a_token_outside_the_margin_is_kept(mocked: Any, tokens: TokenServer,
                                            integrex: Connection) -> None:
    mocked.get(INTEGREX_CLAIMS, json={})
    api.call(integrex, "GET", "claims")
    _expire_everywhere(integrex, oauth.REFRESH_MARGIN.total_seconds() + 60)
    api.call(integrex, "GET", "claims")
    assert len(tokens.forms) == 1


def test_it_refreshes_the_token_once_on_401_and_retries_once(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    call = mocked.get(INTEGREX_CLAIMS, status=401, json={"message": "token revoked"})
    mocked.get(INTEGREX_CLAIMS, json={"ok": True})
    assert api.call(integrex, "GET", "claims").data == {"ok": True}
    assert [c.request.headers["Authorization"] for c in call.calls[:1]] == ["Bearer tok-1"]
    assert mocked.calls[-1].request.headers["Authorization"] == "Bearer tok-2"
    assert len(tokens.forms) == 2


def test_the_resend_after_a_401_carries_the_same_query_body_and_ticket(
        mocked: Any, tokens: TokenServer, integrex: Connection,
        caplog: pytest.LogCaptureFixture) -> None:
    mocked.post(INTEGREX_CLAIMS, status=401, json={"message": "token revoked"})
    mocked.post(INTEGREX_CLAIMS, json={"ok": True})
    caplog.set_level(logging.INFO, logger="revcycle.api")
    api.call(integrex, "POST", "claims", params={"page": "2"},
             json={"invoiceNumber": "INV-1"}, ticket_id=9)
    first, second = (c.request for c in mocked.calls if "/claims" in c.request.url)
    assert second.url == first.url and second.url.endswith("/claims?page=2")
    assert json.loads(second.body) == json.loads(first.body) == {"invoiceNumber": "INV-1"}
    lines = [r.getMessage() for r in caplog.records if r.name == "revcycle.api"]
    assert len(lines) == 2 and all(line.endswith("ticket 9)") for line in lines)


def test_two_401s_raise_unauthorized_after_exactly_one_refresh(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    call = mocked.get(INTEGREX_CLAIMS, status=401, json={"message": "token revoked"})
    with pytest.raises(errors.Unauthorized):
        api.call(integrex, "GET", "claims")
    assert len(call.calls) == 2
    assert len(tokens.forms) == 2


def test_smart_uses_the_refresh_token_once_the_access_token_expired(
        mocked: Any, tokens: TokenServer, smart: Connection) -> None:
    call = mocked.get(SMART_VISITS, json=[])
    api.call(smart, "GET", "visits")
    _expire_everywhere(smart, -5)
    api.call(smart, "GET", "visits")
    assert tokens.grants == ["password", "refresh_token"]
    assert tokens.forms[1]["refresh_token"] == "refresh-1"
    assert call.calls[1].request.headers["Authorization"] == "Bearer tok-2"
    assert OAuthToken.objects.get(connection=smart).refresh_token == "refresh-2"


def test_a_refused_refresh_token_falls_back_to_a_password_login(
        mocked: Any, tokens: TokenServer, smart: Connection,
        caplog: pytest.LogCaptureFixture) -> None:
    call = mocked.get(SMART_VISITS, json=[])
    api.call(smart, "GET", "visits")
    tokens.refresh_status = 400
    _expire_everywhere(smart, -5)
    caplog.set_level(logging.INFO, logger="revcycle.oauth")
    api.call(smart, "GET", "visits")
    assert tokens.grants == ["password", "refresh_token", "password"]
    assert call.calls[1].request.headers["Authorization"] == "Bearer tok-3"
    # The log says which connection's refresh token was spent (an admin reads it).
    assert f"connection {smart.pk}: refresh failed, logging in again" in [
        record.getMessage() for record in caplog.records if record.name == "revcycle.oauth"]


@pytest.mark.django_db(transaction=True)
def test_a_slow_token_request_for_one_connection_does_not_hold_up_another(
        mocked: Any, integrex: Connection, smart: Connection) -> None:
    """Each connection has its own refresh lock: Smart gets its token while Integrex's
    token service is still answering."""
    integrex_asking, smart_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def slow_integrex_token(request: Any) -> tuple[int, dict[str, str], str]:
        integrex_asking.set()
        seen.append(smart_done.wait(10))  # 10 s: only reached when the locks are shared
        return 200, {}, json.dumps({"access_token": "integrex-tok", "expires_in": 3600})

    mocked.add_callback(responses.POST, INTEGREX_TOKEN, callback=slow_integrex_token)
    mocked.post(SMART_TOKEN, json={"access_token": "smart-tok", "expires_in": 3600})
    got: list[str] = []

    def ask_integrex() -> None:
        try:
            got.append(oauth.access_token(integrex))
        finally:
            connections.close_all()

    thread = threading.Thread(target=ask_integrex)
    thread.start()
    assert integrex_asking.wait(30)
    assert oauth.access_token(smart) == "smart-tok"
    smart_done.set()
    thread.join(30)
    assert got == ["integrex-tok"]
    assert seen == [True]  # Smart's token arrived while Integrex's request was in flight


def test_a_refused_client_secret_names_the_connection(mocked: Any,
                                                      integrex: Connection) -> None:
    mocked.post(INTEGREX_TOKEN, status=401, json={"error": "invalid_client"})
    claims = mocked.get(INTEGREX_CLAIMS, json={})
    with pytest.raises(errors.AuthenticationFailed) as caught:
        api.call(integrex, "GET", "claims")
    assert "Integrex test" in caught.value.message
    assert "s3cret-client" not in caught.value.message
    assert len(claims.calls) == 0


def test_a_token_service_outage_is_retryable_not_a_credentials_problem(
        mocked: Any, integrex: Connection) -> None:
    mocked.post(INTEGREX_TOKEN, status=500, body="<html>oops</html>")
    with pytest.raises(errors.Unavailable):
        api.call(integrex, "GET", "claims")


def test_tokens_are_never_logged(mocked: Any, tokens: TokenServer, smart: Connection,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.get(SMART_VISITS, json=[])
    api.call(smart, "GET", "visits")
    _expire_everywhere(smart, -5)
    api.call(smart, "GET", "visits")
    assert len(tokens.forms) == 2
    assert caplog.records  # the calls were logged ...
    for secret in ("tok-1", "tok-2", "refresh-1", "refresh-2", "hmis-password", "smart-secret"):
        assert secret not in caplog.text  # ... without a token or a password


def test_test_connection_logs_in_anew_even_with_a_token_stored(
        mocked: Any, tokens: TokenServer, integrex: Connection) -> None:
    mocked.get(INTEGREX_CLAIMS, json={})
    mocked.get("https://integrex.test/api/v2/health", json={"status": "up"})
    api.call(integrex, "GET", "claims")
    ok, message = api.health_check(integrex)
    assert ok and "token was issued" in message
    assert len(tokens.forms) == 2  # the credentials were really tried


def test_test_connection_reports_credentials_refused_after_a_secret_change(
        mocked: Any, integrex: Connection) -> None:
    OAuthToken.objects.create(connection=integrex, access_token="old-token",
                              expires_at=timezone.now() + timedelta(hours=1))
    mocked.get("https://integrex.test/api/v2/health", json={"status": "up"})
    mocked.post(INTEGREX_TOKEN, status=401, json={"error": "invalid_client"})
    ok, message = api.health_check(integrex)
    assert not ok and "refused our credentials" in message
