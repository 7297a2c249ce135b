"""Helpers for the sandbox's tests: tokens for each stand-in, and a clean knob cache."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sandbox import knobs
from sandbox.credentials import integrex_client, smart_client, smart_user

INTEGREX = "/sandbox/integrex/api/v2"
SMART = "/sandbox/smart"
PAYER = "/sandbox/payer/api"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture(autouse=True)
def sandbox_defaults(settings: Any) -> Any:
    # No background thread in tests: they call the delivery functions themselves.
    settings.SANDBOX_WEBHOOK_WORKER = False
    knobs.clear_cache()
    yield settings
    knobs.clear_cache()


@pytest.fixture
def integrex_token(client: Any, db: Any) -> str:
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client())})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def integrex_headers(integrex_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {integrex_token}", "env": "T"}


def smart_login(client: Any) -> dict[str, Any]:
    client_id, secret = smart_client()
    username, password = smart_user()
    response = client.post(f"{SMART}/oauth/token", {
        "grant_type": "password", "client_id": client_id, "client_secret": secret,
        "username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def smart_headers(client: Any, db: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {smart_login(client)['access_token']}"}
