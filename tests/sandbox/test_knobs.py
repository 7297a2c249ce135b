from __future__ import annotations

import json
import os
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext

from sandbox import knobs
from sandbox.models import SandboxKnobs

from .conftest import INTEGREX, PAYER

pytestmark = pytest.mark.django_db


def test_knobs_come_from_header_then_store_then_settings(rf: Any, settings: Any) -> None:
    settings.SANDBOX_LATENCY_MS = 7
    assert knobs.knob("latency_ms") == 7
    knobs.set_knobs(latency_ms=11)
    assert knobs.knob("latency_ms") == 11
    request = rf.get("/", headers={"X-Sandbox-Latency-Ms": "13"})
    assert knobs.knob("latency_ms", request) == 13
    knobs.set_knobs(latency_ms=None)
    assert knobs.knob("latency_ms") == 7


def test_the_knobs_endpoint_sets_and_resets_the_store(client: Any) -> None:
    response = client.post("/sandbox/knobs", json.dumps({"ready_after": 5, "error_rate": 0.1}),
                           content_type="application/json")
    assert response.status_code == 200
    assert response.json()["effective"]["ready_after"] == 5
    assert SandboxKnobs.objects.get().error_rate == 0.1
    response = client.post("/sandbox/knobs", json.dumps({"reset": True}),
                           content_type="application/json")
    assert response.json()["stored"] == {}
    assert client.post("/sandbox/knobs", json.dumps({"nope": 1}),
                       content_type="application/json").status_code == 400


def test_the_command_sets_knobs(db: Any) -> None:
    out = StringIO()
    call_command("sandbox_knobs", "--latency-ms", "200", "--ready-after", "5", stdout=out)
    assert json.loads(out.getvalue())["latency_ms"] == 200
    assert SandboxKnobs.objects.get().ready_after == 5
    call_command("sandbox_knobs", "--reset", stdout=StringIO())
    assert SandboxKnobs.objects.get().latency_ms is None


def test_error_rate_one_answers_500(client: Any) -> None:
    response = client.get(f"{INTEGREX}/health", headers={"X-Sandbox-Error-Rate": "1"})
    assert response.status_code == 500


def test_rate_429_answers_with_retry_after(client: Any) -> None:
    response = client.get(f"{INTEGREX}/health",
                          headers={"X-Sandbox-429-Rate": "1", "X-Sandbox-Retry-After": "7"})
    assert response.status_code == 429 and response["Retry-After"] == "7"


def test_partial_error_rates_fail_some_requests(client: Any) -> None:
    codes = [client.get(f"{INTEGREX}/health", headers={"X-Sandbox-Error-Rate": "0.5"}).status_code
             for _ in range(40)]
    assert 0 < codes.count(500) < 40


def test_latency_sleeps_inside_the_request(client: Any, monkeypatch: Any) -> None:
    slept: list[float] = []
    monkeypatch.setattr(knobs.time, "sleep", slept.append)
    client.get(f"{INTEGREX}/health", headers={"X-Sandbox-Latency-Ms": "250"})
    assert slept == [0.25]


def test_stats_count_requests_per_endpoint(client: Any, integrex_token: str) -> None:
    client.get(f"{INTEGREX}/health")
    client.get(f"{INTEGREX}/health")
    client.post(f"{PAYER}/claims/", "{}", content_type="application/json")
    stats = client.get("/sandbox/stats").json()
    rows = {(r["service"], r["endpoint"], r["method"]): r["count"] for r in stats["endpoints"]}
    assert rows[("integrex", "health", "GET")] == 2
    assert rows[("integrex", "auth", "POST")] == 1
    assert stats["by_service"]["integrex"]["token_requests"] == 1
    assert stats["totals"]["posts"] == 1 and stats["totals"]["gets"] == 2
    assert client.post("/sandbox/stats/reset").json()["endpoints"] == []


def test_sandbox_endpoints_need_no_login_or_csrf(client: Any, db: Any) -> None:
    client.handler.enforce_csrf_checks = True
    response = client.post("/sandbox/revoke-tokens")
    assert response.status_code == 200


def test_stats_report_the_most_requests_in_flight_at_once(rf: Any) -> None:
    knobs.reset_stats()
    seen_inside: list[int] = []

    @knobs.service_endpoint("integrex", "claim-info")
    def view(request: Any) -> HttpResponse:
        seen_inside.append(knobs.IN_FLIGHT.now["integrex"])
        if len(seen_inside) == 1:  # a second request arrives while the first is answered
            view(rf.get("/"))
        return HttpResponse("ok")

    view(rf.get("/"))
    assert seen_inside == [1, 2]
    assert knobs.IN_FLIGHT.now["integrex"] == 0
    assert knobs.stats()["in_flight_peak"]["integrex"] == 2
    knobs.reset_stats()
    assert knobs.stats()["in_flight_peak"]["integrex"] == 0


def test_a_shared_count_sees_the_requests_of_every_process(tmp_path: Any) -> None:
    # Two counters on one file stand for two sandbox processes (the bench's scale run).
    path = str(tmp_path / "in-flight.json")
    first, second = knobs.SharedInFlight(path), knobs.SharedInFlight(path)
    first.enter("integrex")
    second.enter("integrex")
    second.enter("smart")
    assert first.peaks() == {"integrex": 2, "smart": 1}
    first.leave("integrex")
    second.leave("integrex")
    second.reset()  # the peak restarts from the one request still being answered
    assert first.peaks() == {"integrex": 0, "smart": 1}
    first.enter("integrex")
    assert second.peaks()["integrex"] == 1


def test_a_shared_count_is_written_over_in_place_through_one_descriptor(tmp_path: Any) -> None:
    # Each request changes the count twice: the file is opened once per process and keeps
    # its inode and its fixed size, where it was re-opened and truncated every time.
    path = tmp_path / "in-flight.json"
    counter = knobs.SharedInFlight(str(path))
    real_open = os.open
    with mock.patch("sandbox.knobs.os.open", side_effect=real_open) as opened:
        counter.enter("integrex")
        inode = path.stat().st_ino
        for _ in range(5):
            counter.enter("integrex")
            counter.leave("integrex")
    assert opened.call_count == 1
    assert path.stat().st_ino == inode
    assert path.stat().st_size == knobs.SharedInFlight.SIZE
    assert json.loads(path.read_bytes()) == {"now": {"integrex": 1}, "peak": {"integrex": 2}}


def test_a_shared_count_also_counts_the_requests_without_a_statement(
        tmp_path: Any, rf: Any, monkeypatch: Any) -> None:
    # The bench's sandbox processes count each request in the in-flight file's one locked
    # write: the RequestCounter row was UPDATEd by every request of every process.
    path = str(tmp_path / "in-flight.json")
    monkeypatch.setattr(knobs, "IN_FLIGHT", knobs.SharedInFlight(path))
    view = knobs.service_endpoint("integrex", "claim-info")(lambda request: HttpResponse("ok"))
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            view(rf.get("/"))
        view(rf.post("/"))
    assert not [q for q in queries.captured_queries if "requestcounter" in q["sql"]]
    # Another process of the same sandbox, and a row counted the old way, add up.
    knobs.SharedInFlight(path).enter("integrex", ("integrex", "claim-info", "GET"))
    knobs.count_request("integrex", "auth", "POST")
    stats = knobs.stats()
    assert stats["endpoints"] == [
        {"service": "integrex", "endpoint": "auth", "method": "POST", "count": 1},
        {"service": "integrex", "endpoint": "claim-info", "method": "GET", "count": 4},
        {"service": "integrex", "endpoint": "claim-info", "method": "POST", "count": 1}]
    assert stats["by_service"]["integrex"] == {"requests": 6, "token_requests": 1,
                                               "posts": 1, "gets": 4}
    knobs.reset_stats()
    assert knobs.stats()["endpoints"] == []
