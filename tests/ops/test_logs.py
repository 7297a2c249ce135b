"""Logs: JSON behind LOG_FORMAT=json, PHI still redacted, a request id on a request's lines."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError

from revcycle import logs
from revcycle.logfilters import RedactPHI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger's lines as the console handler writes them with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.addFilter(RedactPHI())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_format_json_writes_one_json_object_per_line_with_the_ssn_redacted() -> None:
    """The real settings, in a fresh process: LOG_FORMAT=json switches the console."""
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('revcycle.test').warning('patient %s not found', '123-45-6789')")
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "revcycle.settings"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    entry = json.loads(done.stderr.strip().splitlines()[-1])
    assert entry["message"] == "patient ***-**-**** not found"
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "WARNING", "revcycle.test", "-")
    assert "123-45-6789" not in done.stderr


def test_a_bad_log_format_is_refused_at_start() -> None:
    env = {**os.environ, "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "revcycle.settings"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "LOG_FORMAT must be plain or json" in done.stderr


def test_a_line_logged_during_a_request_carries_the_request_id_the_response_returns(
        db: Any, client: Any, json_lines: io.StringIO) -> None:
    with mock.patch("revcycle.health.connection.cursor",
                    side_effect=OperationalError("down")):
        response = client.get("/healthz")
    lines = [e for e in parsed(json_lines) if e["logger"] == "revcycle.health"]
    assert lines and response["X-Request-ID"]
    assert {e["request_id"] for e in lines} == {response["X-Request-ID"]}


def test_two_requests_get_two_ids_and_none_outlives_its_request(db: Any, client: Any) -> None:
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert logs.request_id.get() == logs.NO_REQUEST


def test_a_proxys_request_id_is_kept_only_when_it_is_safe_to_log(db: Any, client: Any) -> None:
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-0123456789abcdef")
    assert kept["X-Request-ID"] == "lb-0123456789abcdef"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\n2026 ERROR fake line 123-45-6789")
    assert forged["X-Request-ID"] != "x\n2026 ERROR fake line 123-45-6789"
    assert len(forged["X-Request-ID"]) == 16


def test_a_ticket_created_during_a_request_is_logged_with_its_request_id(
        db: Any, integrex: Any, st_marys: Any, json_lines: io.StringIO) -> None:
    from revcycle.models import Ticket

    token = logs.request_id.set("req-for-ticket-1")
    try:
        ticket = Ticket.objects.create(kind="claim_status", facility=st_marys,
                                       connection=integrex, request={"patientSsn": "x"})
    finally:
        logs.request_id.reset(token)
    lines = [e for e in parsed(json_lines) if e["logger"] == "revcycle.requests"]
    assert [(e["message"], e["request_id"]) for e in lines] == [
        (f"ticket {ticket.pk} queued (claim_status, connection {integrex.pk})",
         "req-for-ticket-1")]


def test_the_json_formatter_redacts_a_traceback_too(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("bad subscriber 123-45-6789")
    except ValueError:
        logging.getLogger("revcycle.test").exception("step failed")
    entry = parsed(json_lines)[-1]
    assert "ValueError" in entry["exception"] and "123-45-6789" not in entry["exception"]


def test_the_console_handler_stamps_the_request_id_before_formatting() -> None:
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["request_id", "phi"]
