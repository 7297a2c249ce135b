"""/healthz and `manage.py healthz --check`: database and worker heartbeat, nothing more."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from revcycle.models import EnginePump


def beat(seconds_ago: float) -> None:
    EnginePump.objects.create(slot=0, owner="host:1:abc",
                              heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago))


def run_check() -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    try:
        call_command("healthz", "--check", stdout=out)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(out.getvalue())


@pytest.fixture
def database_down() -> Any:
    with mock.patch("revcycle.health.connection.cursor",
                    side_effect=OperationalError("connection refused")):
        yield


def test_healthz_is_200_when_the_database_answers_and_a_pump_beat_recently(db: Any,
                                                                          client: Any) -> None:
    beat(seconds_ago=5)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "ok"}


def test_healthz_is_503_when_no_pump_beat_recently(db: Any, client: Any) -> None:
    beat(seconds_ago=300)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "database": "ok", "worker": "stale"}


def test_healthz_is_503_when_no_worker_ever_ran(db: Any, client: Any) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()["worker"]) == (503, "stale")


def test_healthz_is_503_when_the_database_does_not_answer(db: Any, client: Any,
                                                          database_down: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "database": "fail", "worker": "unknown"}


def test_healthz_reveals_nothing_but_the_two_states(db: Any, client: Any) -> None:
    beat(seconds_ago=1)
    body = client.get("/healthz").content.decode()
    assert "host" not in body and "abc" not in body and "slot" not in body
    assert set(json.loads(body)) == {"status", "database", "worker"}


def test_healthz_needs_no_login_and_is_not_redirected_to_https(db: Any, client: Any,
                                                               settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    beat(seconds_ago=1)
    assert client.get("/healthz").status_code == 200


def test_the_check_command_exits_0_when_healthy(db: Any) -> None:
    beat(seconds_ago=5)
    assert run_check() == (0, {"status": "ok", "database": "ok", "worker": "ok"})


def test_the_check_command_exits_1_when_the_heartbeat_is_stale(db: Any) -> None:
    beat(seconds_ago=300)
    assert run_check() == (1, {"status": "fail", "database": "ok", "worker": "stale"})


def test_the_check_command_exits_1_when_the_database_does_not_answer(db: Any,
                                                                     database_down: Any) -> None:
    assert run_check() == (1, {"status": "fail", "database": "fail", "worker": "unknown"})
