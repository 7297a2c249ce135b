"""The bench's bound and goals (issue 18), as pure functions the tests can check.

The bound: for n tickets, request latency L, c requests in flight and a poll interval I (no
shorter than the service's ready delay), no engine can finish before
    T* = max(2nL/c, nL/c + I + L)
Every ticket needs a POST and a GET; the last POST cannot complete before nL/c, and its GET
comes at least I later and takes L. The older "ideal" (ready + I + 2nL/c) added the two
terms instead of overlapping them, so a ratio to it flattered the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The goals of issue 18, in one place so the table, the docs and the tests agree.
BATCH_RATIO_MAX = 1.2  # measured / T* for 1,000 tickets, 200 ms, 16 in flight
SCALE_RATIO_MAX = 1.3  # 10,000 tickets, 64 in flight, two engine processes, PostgreSQL
WORKER_CPU_MS_PER_REQUEST_MAX = 5.0
SCREEN_P95_MS_MAX = 100.0
SCREEN_QUERIES_MAX = 10
POLL_FRAGMENT_MS_MAX = 20.0  # median server time of a fragment every open tab polls
EXPORT_MEMORY_MB_MAX = 50.0  # "constant memory": growth of resident memory while streaming


def floor_seconds(*, tickets: int, latency: float, in_flight: int, interval: float) -> float:
    """T*: the shortest time any engine can take for `tickets` POST-then-GET tickets."""
    if tickets <= 0:
        return 0.0
    if in_flight <= 0:
        raise ValueError("in_flight must be positive")
    posts = tickets * latency / in_flight
    return max(2 * posts, posts + interval + latency)


def capacity_per_second(*, latency: float, in_flight: int) -> float:
    """Requests a second the connection can carry: c / L."""
    return in_flight / latency


@dataclass(frozen=True)
class Check:
    """One measured figure against its goal; `ok` is None when nothing was measured."""

    measure: str
    value: float | None
    limit: float
    unit: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    @property
    def goal(self) -> str:
        return f"<= {self.limit:g}{self.unit}"


def batch_checks(*, wall: float | None, floor: float, worker_cpu: float | None,
                 requests: int) -> list[Check]:
    """The batch's goals: time against T*, worker CPU per API request."""
    ratio = None if wall is None or floor <= 0 else wall / floor
    cpu_ms = None if worker_cpu is None or requests <= 0 else worker_cpu * 1000 / requests
    return [Check("ratio to T*", ratio, BATCH_RATIO_MAX),
            Check("worker CPU per API request", cpu_ms, WORKER_CPU_MS_PER_REQUEST_MAX, " ms")]


def scale_checks(*, wall: float | None, floor: float, double_posts: int, peak: int | None,
                 cap: int, not_done: int) -> list[Check]:
    """The scale run's goals: time against T*, no ticket sent twice, the connection's cap
    of requests in flight never exceeded, every ticket done."""
    ratio = None if wall is None or floor <= 0 else wall / floor
    return [Check("ratio to T*", ratio, SCALE_RATIO_MAX),
            Check("double POSTs (sandbox count)", double_posts, 0),
            Check("peak requests in flight (sandbox count)", peak, cap),
            Check("tickets not done", not_done, 0)]


def screen_checks(*, p95_ms: float, queries: Sequence[int], median_ms: float,
                  poll: bool) -> list[Check]:
    """A screen's goals: p95 server time, queries per request on every page measured, and
    for a fragment the open tabs poll, its median time."""
    checks = [Check("p95 server time", p95_ms, SCREEN_P95_MS_MAX, " ms"),
              Check("queries per request", max(queries) if queries else None,
                    SCREEN_QUERIES_MAX)]
    if poll:
        checks.append(Check("poll fragment median", median_ms, POLL_FRAGMENT_MS_MAX, " ms"))
    return checks


def exit_status(oks: Sequence[bool | None], *, report_only: bool) -> int:
    """1 when a measured goal was missed, unless the run only reports."""
    if report_only:
        return 0
    return 1 if any(ok is False for ok in oks) else 0
