"""The sandbox's request log for the bench's timeline (sandbox.requestlog): a line per
service request with the remote id it is about, start and end, only when
SANDBOX_REQUEST_LOG names a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox import demo_data, requestlog

from .conftest import INTEGREX

pytestmark = pytest.mark.django_db

CLAIM = demo_data.claim_status_request(demo_data.DEMO_PATIENTS[0])


def _post_then_get(client: Any, headers: dict[str, str]) -> str:
    posted = client.post(f"{INTEGREX}/claim-info", json.dumps(CLAIM),
                         content_type="application/json", headers=headers).json()["id"]
    client.get(f"{INTEGREX}/claim-info", {"id": posted}, headers=headers)
    return posted


def test_each_request_is_logged_with_the_id_it_is_about(
        client: Any, integrex_headers: dict[str, str], tmp_path: Path, monkeypatch: Any) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("SANDBOX_REQUEST_LOG", str(log))
    monkeypatch.setattr(requestlog, "_fd", {})

    posted = _post_then_get(client, integrex_headers)

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["endpoint"], e["method"], e["status"], e["id"]) for e in lines] == [
        ("claim-info", "POST", 200, posted), ("claim-info", "GET", 202, posted)]
    assert all(e["service"] == "integrex" and e["end"] >= e["start"] for e in lines)


def test_nothing_is_logged_by_default(client: Any, integrex_headers: dict[str, str],
                                      monkeypatch: Any) -> None:
    monkeypatch.delenv("SANDBOX_REQUEST_LOG", raising=False)
    monkeypatch.setattr(requestlog, "_fd", {})

    _post_then_get(client, integrex_headers)

    assert requestlog._fd == {}  # no log file was opened
