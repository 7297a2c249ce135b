"""Where a bench batch's time went (sandbox/benchtimeline.py), from made-up logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox import benchtimeline as tl


def _request(method: str, rid: str, start: float, end: float) -> dict[str, Any]:
    return {"service": "integrex", "endpoint": "claim-info", "method": method, "id": rid,
            "start": start, "end": end, "status": 200}


def test_request_figures_time_the_posts_and_each_tickets_first_get() -> None:
    # Two tickets posted by t=0.4 (nL/c = 2 x 0.2 / 1); due at POST + 15, ready at POST + 5.
    requests = [_request("POST", "a", 0.0, 0.2), _request("POST", "b", 0.2, 0.4),
                _request("GET", "a", 15.2, 15.4), _request("GET", "b", 16.4, 16.6),
                _request("GET", "b", 30.0, 30.2)]  # a second GET: only the first counts

    rows = dict(tl.request_figures(requests, started=0.0, tickets=2, latency=0.2,
                                   in_flight=1, ready_after=5, interval=15))

    assert rows["upload to the last POST's answer / nL/c"] == "0.4 s / 0.4 s"
    assert rows["first GET after its ticket was due (POST + I)"].startswith(
        "0.50 / 1.00 / 1.00 s (median / p95 / max, 2)")
    assert rows["first GET after its ticket was ready (POST + ready-after)"].startswith(
        "10.50 / 11.00 / 11.00 s")
    assert rows["last GET's answer after the upload"] == "30.2 s"


def test_engine_turnaround_counts_a_threads_short_gaps_between_steps() -> None:
    trace = [{"what": "step", "thread": "engine-0", "start": 0.0, "end": 0.2},
             {"what": "step", "thread": "engine-0", "start": 0.21, "end": 0.4},
             {"what": "step", "thread": "engine-0", "start": 15.0, "end": 15.2},  # idle wait
             {"what": "step", "thread": "engine-1", "start": 0.0, "end": 0.2},
             {"what": "step", "thread": "engine-1", "start": 0.23, "end": 0.4},
             {"what": "claim", "start": 0.0, "end": 0.002, "asked": 2, "got": 2},
             {"what": "claim", "start": 0.3, "end": 0.301, "asked": 2, "got": 0}]

    rows = dict(tl.engine_figures(trace))

    assert rows["engine turnaround between a thread's steps (gaps < 1 s)"] == (
        "median 20.0 ms, p95 30.0 ms (2 gaps; 1 longer)")
    assert rows["engine claims: count / empty / tickets per claim / median time"] == (
        "2 / 1 / 2.0 / 1.5 ms")


def test_the_machine_is_cpu_bound_when_nine_tenths_of_its_cores_are_busy() -> None:
    before = tl.cpu_jiffies("cpu  100 0 100 800 0 0 0 0 0 0\n")
    after = tl.cpu_jiffies("cpu  190 0 200 810 0 0 0 0 0 0\n")  # 190 busy of 200 ticks
    busy = tl.utilisation(before, after)

    rows = dict(tl.cpu_figures(engine=10, sandbox=12, wall=30, cores=2, busy=busy))

    assert busy == 0.95
    assert rows["machine CPU busy (/proc/stat, every process)"] == (
        "95% of 2 cores: CPU-bound (>= 90%)")
    assert rows["CPU s: engine / sandbox (of cores x wall)"] == "10.0 / 12.0 (of 2 x 30.0 = 60)"


def test_logs_are_read_from_the_runs_start(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"start": t}) for t in (1.0, 5.0, 9.0)) + "\n")
    assert [e["start"] for e in tl.read_events(log, since=5.0)] == [5.0, 9.0]
    assert tl.read_events(tmp_path / "missing.jsonl", since=0) == []


def test_occupancy_figures_say_how_full_the_cap_was_and_the_runs_shape() -> None:
    # Over 10 s: four POSTs of 1 s in the first half, one GET of 2 s in the second.
    requests = [_request("POST", str(i), i, i + 1.0) for i in range(4)]
    requests.append(_request("GET", "0", 6.0, 8.0))

    rows = dict(tl.occupancy_figures(requests, wall=10.0, cap=4, parts=2))

    assert rows["requests in flight on average (answer times / wall) / cap"] == "0.6 / 4"
    assert rows["POSTs/GETs a second, by tenth of the run (5.0 s each)"] == "1/0, 0/0"


def test_two_engines_threads_of_one_name_are_told_apart_by_their_process() -> None:
    # Both engines name their threads engine-0...: read as one thread, the steps of the
    # two interleave and the gaps between them come out negative.
    trace = [{"what": "step", "thread": "engine-0", "pid": pid, "start": start, "end": end}
             for pid, start, end in ((1, 0.0, 0.2), (2, 0.1, 0.3), (1, 0.21, 0.4),
                                     (2, 0.33, 0.5))]
    rows = dict(tl.engine_figures(trace))
    assert rows["engine turnaround between a thread's steps (gaps < 1 s)"].startswith(
        "median 20.0 ms")


def test_step_occupancy_is_the_steps_running_at_once_and_their_time_by_state() -> None:
    trace = [{"what": "step", "start": 0.0, "end": 0.2, "state": "queued"},
             {"what": "step", "start": 0.0, "end": 0.4, "state": "submitted"},
             {"what": "step", "start": 0.5, "end": 0.9, "state": "submitted"},
             {"what": "claim", "start": 0.0, "end": 0.9}]
    rows = dict(tl.step_occupancy(trace, wall=1.0))
    assert rows["engine steps running at once on average"] == "1.0"
    assert rows["engine step time by state before the step (median)"] == (
        "queued 200 ms, submitted 400 ms")
    assert tl.step_occupancy([], wall=1.0) == []
