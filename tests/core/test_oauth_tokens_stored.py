"""What a token request stores and what its failures say, and the cross-process lease on
the token row (written from `make mutants`' survivors in revcycle/oauth.py)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import responses
from django.utils import timezone

from revcycle import errors, http, oauth
from revcycle.models import Connection, OAuthToken

INTEGREX_TOKEN = "https://integrex.test/api/v2/auth"
SMART_TOKEN = "https://smart.test/providerapi-dev/oauth/token"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _issue(mocked: Any, url: str, **body: Any) -> None:
    mocked.post(url, json={"access_token": "tok-1", "token_type": "bearer", **body})


def test_a_new_token_is_stored_with_its_lifetime_and_counted(
        mocked: Any, integrex: Connection, caplog: pytest.LogCaptureFixture,
        django_assert_num_queries: Any) -> None:
    _issue(mocked, INTEGREX_TOKEN, expires_in=600, token_type="Bearer-with-a-long-type-name")
    before = timezone.now()
    caplog.set_level(logging.INFO, logger="revcycle.oauth")
    assert oauth.access_token(integrex) == "tok-1"
    assert [r.getMessage() for r in caplog.records if r.name == "revcycle.oauth"] == [
        f"connection {integrex.pk}: new token, valid 600 s"]
    row = OAuthToken.objects.get(connection=integrex)
    assert row.access_token == "tok-1" and row.refresh_token == ""
    assert row.token_type == "Bearer-with-a-long-t"  # cut to the column's 20 characters
    assert before + timedelta(seconds=600) <= row.expires_at <= timezone.now() + timedelta(
        seconds=600)
    assert before <= row.obtained_at <= timezone.now()
    assert row.requests_made == 1 and row.refreshing_until is None
    # Kept in memory until the same expiry: the next request costs no query.
    assert oauth._cache[integrex.pk].expires_at == pytest.approx(row.expires_at.timestamp(),
                                                                 abs=1)
    with django_assert_num_queries(0):
        assert oauth.access_token(integrex) == "tok-1"


def test_a_token_without_a_lifetime_is_kept_for_an_hour(mocked: Any,
                                                        integrex: Connection) -> None:
    mocked.post(INTEGREX_TOKEN, json={"access_token": "tok-1"})
    before = timezone.now()
    oauth.access_token(integrex)
    row = OAuthToken.objects.get(connection=integrex)
    assert before + timedelta(hours=1) <= row.expires_at <= timezone.now() + timedelta(hours=1)
    assert row.token_type == "bearer"


def test_a_rotating_refresh_token_is_stored_for_the_next_refresh(mocked: Any,
                                                                 smart: Connection) -> None:
    _issue(mocked, SMART_TOKEN, expires_in=3600, refresh_token="refresh-1")
    oauth.access_token(smart)
    assert OAuthToken.objects.get(connection=smart).refresh_token == "refresh-1"


def test_a_second_token_adds_to_the_count(mocked: Any, integrex: Connection) -> None:
    _issue(mocked, INTEGREX_TOKEN, expires_in=3600)
    oauth.access_token(integrex)
    oauth.access_token(integrex, stale="tok-1")
    assert OAuthToken.objects.get(connection=integrex).requests_made == 2


def test_a_token_path_on_the_connection_overrides_the_services(mocked: Any,
                                                              integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(token_path="oauth2/token")
    integrex.refresh_from_db()
    _issue(mocked, "https://integrex.test/api/v2/oauth2/token", expires_in=3600)
    assert oauth.access_token(integrex) == "tok-1"


def test_client_credentials_send_the_client_only_in_basic_auth(mocked: Any,
                                                               integrex: Connection) -> None:
    _issue(mocked, INTEGREX_TOKEN, expires_in=3600)
    oauth.access_token(integrex)
    sent = mocked.calls[0].request
    assert sent.body == "grant_type=client_credentials"  # no client_id in the form
    assert sent.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("answer,error,message", [
    (dict(status=503, json={"error": "temporarily_unavailable"}), errors.Unavailable,
     "The token service had an error (503)."),
    (dict(status=500, json={"error": "server_error"}), errors.Unavailable,
     "The token service had an error (500)."),
    (dict(status=401, json={"error": "invalid_client"}), errors.AuthenticationFailed,
     "Integrex test: the token service refused our credentials (invalid_client, HTTP 401). "
     "An admin should check the client id, secret."),
    (dict(status=403, body="<html>Forbidden</html>"), errors.AuthenticationFailed,
     "Integrex test: the token service refused our credentials (HTTP 403)."),
    (dict(status=500, body="<html>oops</html>"), errors.Unavailable,
     "The token service had an error (500)."),
    (dict(status=401, body="<html>Unauthorized</html>"), errors.AuthenticationFailed,
     "Integrex test: the token service refused our credentials (HTTP 401)."),
    (dict(status=402, body="<html>Not on the allow-list</html>"), errors.AuthenticationFailed,
     "Integrex test: the token service refused our credentials (HTTP 402)."),
    (dict(status=200, body="<html>maintenance</html>"), errors.BadResponse,
     "Integrex test: the token service gave an unreadable answer (HTTP 200)."),
    (dict(body=requests.ConnectTimeout("slow")), errors.Unavailable,
     "The token service did not answer in time."),
    (dict(body=requests.ConnectionError("refused")), errors.Unavailable,
     "Could not reach the token service (ConnectionError)."),
], ids=["5xx", "500", "refused", "refused-page", "5xx-page", "refused-401-page", "refused-402-page",
        "unreadable",
        "timeout", "unreachable"])
def test_a_failed_token_request_says_what_went_wrong(mocked: Any, integrex: Connection,
                                                     answer: dict[str, Any],
                                                     error: type[errors.ApiError],
                                                     message: str) -> None:
    mocked.post(INTEGREX_TOKEN, **answer)
    with pytest.raises(error) as caught:
        oauth.access_token(integrex)
    assert type(caught.value) is error
    assert caught.value.message == message
    assert caught.value.status == answer.get("status")
    # The lease is given back: the next request may try at once.
    assert OAuthToken.objects.get(connection=integrex).refreshing_until is None


def test_a_refused_password_login_asks_for_the_username_and_password(
        mocked: Any, smart: Connection) -> None:
    mocked.post(SMART_TOKEN, status=400, json={"error": "invalid_grant"})
    with pytest.raises(errors.AuthenticationFailed) as caught:
        oauth.access_token(smart)
    assert caught.value.message == (
        "Smart test: the token service refused our credentials (invalid_grant, HTTP 400). "
        "An admin should check the client id, secret, username and password.")


def test_a_lease_held_by_another_process_is_waited_for_and_its_token_used(
        mocked: Any, integrex: Connection, monkeypatch: Any) -> None:
    """The other process stores its token while we wait: we ask for none."""
    OAuthToken.objects.create(connection=integrex,
                              refreshing_until=timezone.now() + timedelta(seconds=30))
    waits: list[float] = []

    def other_process_stores_its_token(seconds: float) -> None:
        waits.append(seconds)
        OAuthToken.objects.filter(connection=integrex).update(
            access_token="theirs", expires_at=timezone.now() + timedelta(hours=1),
            refreshing_until=None)

    monkeypatch.setattr(oauth.time, "sleep", other_process_stores_its_token)
    assert oauth.access_token(integrex) == "theirs"
    assert waits == [0.1] and len(mocked.calls) == 0
    # Kept in memory with the stored expiry: the next call reuses it, asking nothing.
    assert oauth._cache[integrex.pk].expires_at == pytest.approx(
        OAuthToken.objects.get(connection=integrex).expires_at.timestamp(), abs=1)
    assert oauth.access_token(integrex) == "theirs" and len(mocked.calls) == 0


def test_a_lease_held_too_long_gives_up_without_asking(mocked: Any, integrex: Connection,
                                                       monkeypatch: Any) -> None:
    """It waits out the whole 45 s lease (still waiting at exactly 45 s), then gives up."""
    OAuthToken.objects.create(connection=integrex,
                              refreshing_until=timezone.now() + timedelta(seconds=30))
    readings = [1000.0, 1045.0, 1045.001]  # the clock at the start, then at each check
    sleeps: list[float] = []
    monkeypatch.setattr(oauth, "time", SimpleNamespace(
        monotonic=lambda: readings.pop(0), sleep=sleeps.append, time=time.time))
    with pytest.raises(errors.Unavailable) as caught:
        oauth.access_token(integrex)
    assert caught.value.message == "Another worker has been fetching a token for too long."
    assert sleeps == [0.1] and readings == []
    assert len(mocked.calls) == 0


def test_an_expired_lease_is_taken_over_for_45_seconds(mocked: Any, integrex: Connection,
                                                       monkeypatch: Any) -> None:
    """A process that died while asking leaves its lease: it no longer holds the row."""
    OAuthToken.objects.create(connection=integrex,
                              refreshing_until=timezone.now() - timedelta(seconds=1))
    leases: list[Any] = []

    def issue(request: Any) -> tuple[int, dict[str, str], str]:
        leases.append(OAuthToken.objects.get(connection=integrex).refreshing_until)
        return 200, {}, json.dumps({"access_token": "ours", "expires_in": 3600})

    mocked.add_callback(responses.POST, INTEGREX_TOKEN, callback=issue)
    started = timezone.now()
    assert oauth.access_token(integrex) == "ours"
    assert started + timedelta(seconds=45) <= leases[0] <= timezone.now() + timedelta(
        seconds=45)
    assert OAuthToken.objects.get(connection=integrex).refreshing_until is None


def test_a_new_process_reads_the_stored_token_in_one_query_then_from_memory(
        mocked: Any, integrex: Connection, django_assert_num_queries: Any) -> None:
    OAuthToken.objects.create(connection=integrex, access_token="stored",
                              expires_at=timezone.now() + timedelta(hours=1))
    with django_assert_num_queries(1):
        assert oauth.access_token(integrex) == "stored"
    with django_assert_num_queries(0):
        assert oauth.access_token(integrex) == "stored"
    assert len(mocked.calls) == 0


def test_a_token_request_gives_back_only_its_own_lease(mocked: Any, integrex: Connection,
                                                      smart: Connection) -> None:
    """Another process asking for Smart's token keeps its lease while Integrex's is done."""
    theirs = timezone.now() + timedelta(seconds=30)
    OAuthToken.objects.create(connection=smart, refreshing_until=theirs)
    _issue(mocked, INTEGREX_TOKEN, expires_in=3600)
    assert oauth.access_token(integrex) == "tok-1"
    assert OAuthToken.objects.get(connection=integrex).refreshing_until is None
    assert OAuthToken.objects.get(connection=smart).refreshing_until == theirs


def test_discard_drops_the_stored_and_the_cached_token(mocked: Any,
                                                      smart: Connection) -> None:
    _issue(mocked, SMART_TOKEN, expires_in=3600, refresh_token="refresh-1")
    oauth.access_token(smart)
    oauth.discard(smart.pk)
    row = OAuthToken.objects.get(connection=smart)
    assert (row.access_token, row.refresh_token, row.expires_at) == ("", "", None)
    assert smart.pk not in oauth._cache


def test_every_token_request_authenticates_the_client_and_has_a_timeout(
        mocked: Any, smart: Connection) -> None:
    """The password login and the refresh each send HTTP Basic client auth, and neither can
    hold a worker forever."""
    mocked.post(SMART_TOKEN, json={"access_token": "tok", "expires_in": 3600,
                                   "refresh_token": "refresh-1"})
    oauth.access_token(smart)
    OAuthToken.objects.filter(connection=smart).update(expires_at=timezone.now())
    oauth.access_token(smart, stale="tok")
    login, refresh = (call.request for call in mocked.calls)
    assert "grant_type=password" in login.body and "grant_type=refresh_token" in refresh.body
    for sent in (login, refresh):
        assert sent.headers["Authorization"] == "Basic SGltaWxvX0hNSVM6c21hcnQtc2VjcmV0"
        assert sent.req_kwargs["timeout"] == http.timeouts()


def test_a_client_credentials_request_has_a_timeout(mocked: Any, integrex: Connection) -> None:
    _issue(mocked, INTEGREX_TOKEN, expires_in=3600)
    oauth.access_token(integrex)
    assert mocked.calls[0].request.req_kwargs["timeout"] == http.timeouts()
