""""Test connection": the unauthenticated health check, then a token, and what is stored on
the connection (written from `make mutants`' survivors in revcycle/api.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from revcycle import api
from revcycle.models import Connection

PAYER_HEALTH = "https://payer.test/api/health"
INTEGREX_HEALTH = "https://integrex.test/api/v2/health"
INTEGREX_TOKEN = "https://integrex.test/api/v2/auth"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _with_health_path(conn: Connection) -> Connection:
    Connection.objects.filter(pk=conn.pk).update(health_check_path="health")
    conn.refresh_from_db()
    return conn


def test_a_passing_health_check_without_a_token_is_stored(mocked: Any,
                                                          payer: Connection) -> None:
    call = mocked.get(PAYER_HEALTH, json={"status": "up"})
    assert api.health_check(_with_health_path(payer)) == (True, "Health check passed.")
    sent = call.calls[0].request.headers
    assert sent["X-API-Key"] == "payer-key" and sent["Accept"] == "application/json"
    payer.refresh_from_db()
    assert (payer.last_health_ok, payer.last_health_message) == (True, "Health check passed.")
    assert payer.last_health_at is not None


def test_a_connection_without_a_health_path_sends_nothing(mocked: Any,
                                                          payer: Connection) -> None:
    assert api.health_check(payer) == (True, "Health check passed.")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("status", [400, 401, 503])
def test_a_failing_health_check_asks_for_no_token(mocked: Any, integrex: Connection,
                                                  status: int) -> None:
    mocked.get(INTEGREX_HEALTH, status=status, json={})
    token = mocked.post(INTEGREX_TOKEN, json={"access_token": "tok", "expires_in": 3600})
    message = f"Health check answered HTTP {status}."
    assert api.health_check(integrex) == (False, message)
    assert len(token.calls) == 0
    integrex.refresh_from_db()
    assert (integrex.last_health_ok, integrex.last_health_message) == (False, message)


def test_a_health_check_answering_399_passes(mocked: Any, payer: Connection) -> None:
    mocked.get(PAYER_HEALTH, status=399, body="")
    assert api.health_check(_with_health_path(payer))[0] is True


def test_an_unreachable_service_stores_why(mocked: Any, payer: Connection) -> None:
    mocked.get(PAYER_HEALTH, body=requests.ConnectionError("refused"))
    ok, message = api.health_check(_with_health_path(payer))
    assert (ok, message) == (False, "Could not reach the service (connection error).")
    payer.refresh_from_db()
    assert payer.last_health_message == message and payer.last_health_ok is False


def test_a_passing_health_check_then_a_token_is_stored(mocked: Any,
                                                       integrex: Connection) -> None:
    mocked.get(INTEGREX_HEALTH, json={"status": "up"})
    token = mocked.post(INTEGREX_TOKEN, json={"access_token": "tok", "expires_in": 3600})
    message = "Health check passed and a token was issued."
    assert api.health_check(integrex) == (True, message)
    assert len(token.calls) == 1
    integrex.refresh_from_db()
    assert (integrex.last_health_ok, integrex.last_health_message) == (True, message)


def test_a_long_failure_is_stored_cut_to_the_columns_500_characters(
        mocked: Any, integrex: Connection) -> None:
    mocked.get(INTEGREX_HEALTH, json={"status": "up"})
    mocked.post(INTEGREX_TOKEN, status=401, json={"error": "invalid_client" * 50})
    ok, message = api.health_check(integrex)
    integrex.refresh_from_db()
    assert not ok and len(message) > 500
    assert integrex.last_health_message == message[:500]
