"""The stand-ins' token check reads a token once, then trusts it until it expires or tokens
are revoked, in this process or another of the same sandbox: every authenticated request
used to read its token with a SELECT."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sandbox import knobs, tokens

from .conftest import INTEGREX

pytestmark = pytest.mark.django_db


def ask(client: Any, headers: dict[str, str]) -> Any:
    """A claim-info GET without an id: 400 once the token passes, 401 when it does not."""
    return client.get(f"{INTEGREX}/claim-info", headers=headers)


def token_reads(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if q["sql"].startswith("SELECT") and "sandbox_sandboxtoken" in q["sql"]]


def test_a_token_is_read_once_then_trusted(client: Any, integrex_headers: dict) -> None:
    with CaptureQueriesContext(connection) as first:
        assert ask(client, integrex_headers).status_code == 400
    with CaptureQueriesContext(connection) as second:
        assert ask(client, integrex_headers).status_code == 400
    assert len(token_reads(first)) == 1
    assert token_reads(second) == []


def test_a_revoked_token_is_refused_at_once(client: Any, integrex_headers: dict) -> None:
    assert ask(client, integrex_headers).status_code == 400
    assert client.post("/sandbox/revoke-tokens").json()["revoked"] == 1
    response = ask(client, integrex_headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


def test_a_revocation_by_another_sandbox_process_is_seen(
        client: Any, integrex_headers: dict, tmp_path: Any, monkeypatch: Any) -> None:
    # Two SharedInFlight on one file stand for two processes (the bench's sandbox).
    path = str(tmp_path / "in-flight.json")
    monkeypatch.setattr(knobs, "IN_FLIGHT", knobs.SharedInFlight(path))
    assert ask(client, integrex_headers).status_code == 400
    other = knobs.SharedInFlight(path)
    monkeypatch.setattr(knobs, "IN_FLIGHT", other)
    tokens.revoke_all_tokens()  # what the other process does
    monkeypatch.setattr(knobs, "IN_FLIGHT", knobs.SharedInFlight(path))
    assert ask(client, integrex_headers).status_code == 401


def test_a_trusted_token_still_expires(client: Any, integrex_headers: dict,
                                       monkeypatch: Any) -> None:
    assert ask(client, integrex_headers).status_code == 400
    later = timezone.now() + timedelta(hours=2)  # Integrex tokens live 3599 s
    monkeypatch.setattr(tokens.timezone, "now", lambda: later)
    response = ask(client, integrex_headers)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]
