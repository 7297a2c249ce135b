"""Where a bench batch's time went: the sandbox's request log (sandbox.requestlog), the
engine's trace (revcycle.enginetrace) and /proc/stat, read after the run.

Each figure answers one question about T* = max(2nL/c, nL/c + I + L): did the POSTs end
near nL/c; how late after its due time (POST + I) and its ready time did each ticket's
first GET come; how long a thread of the engine sat between two steps; and was the
machine's CPU the limit (engine and sandbox share its cores)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CPU_BOUND = 0.9  # busy share of all cores above which the run was limited by CPU


def read_events(path: Path, since: float) -> list[dict[str, Any]]:
    """The JSON lines of a log that started at or after `since` (the logs span the run)."""
    if not path.exists():
        return []
    events = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return [e for e in events if e["start"] >= since]


def cpu_jiffies(stat: str | None = None) -> tuple[int, int]:
    """(busy, total) of all cores from /proc/stat's first line; idle and iowait are idle."""
    text = stat if stat is not None else Path("/proc/stat").read_text()
    values = [int(v) for v in text.splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def utilisation(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def _spread(values: Iterable[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "none"
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{statistics.median(ordered):.2f} / {p95:.2f} / {ordered[-1]:.2f} s "
            f"(median / p95 / max, {len(ordered)})")


def request_figures(requests: list[dict[str, Any]], *, started: float, tickets: int,
                    latency: float, in_flight: int, ready_after: float, interval: float,
                    endpoint: str = "claim-info") -> list[tuple[str, str]]:
    posts = [r for r in requests if r["endpoint"] == endpoint and r["method"] == "POST"]
    gets = [r for r in requests if r["endpoint"] == endpoint and r["method"] == "GET"]
    if not posts:
        return [("timeline", "no POST in the sandbox's request log")]
    last_post = max(r["end"] for r in posts)
    post_span = last_post - min(r["start"] for r in posts)
    first_get: dict[str, float] = {}
    for r in gets:
        first_get[r["id"]] = min(first_get.get(r["id"], r["start"]), r["start"])
    posted = {r["id"]: r["end"] for r in posts if r["id"]}
    asked = [(first_get[i], end) for i, end in posted.items() if i in first_get]
    rows = [
        ("upload to the last POST's answer / nL/c",
         f"{last_post - started:.1f} s / {tickets * latency / in_flight:.1f} s"),
        ("POSTs / GETs per second while they ran",
         f"{len(posts) / max(post_span, 1e-9):.1f} / {_rate(gets):.1f}"),
        ("sandbox answer time, POST / GET (median; L is the floor)",
         f"{_median(posts):.3f} / {_median(gets):.3f} s (L = {latency:g} s)"),
        ("first GET after its ticket was due (POST + I)",
         _spread(get - (end + interval) for get, end in asked)),
        ("first GET after its ticket was ready (POST + ready-after)",
         _spread(get - (end + ready_after) for get, end in asked)),
    ]
    if gets:
        last_get = max(r["end"] for r in gets)
        rows.append(("last GET's answer after the upload", f"{last_get - started:.1f} s"))
    return rows


def _rate(requests: list[dict[str, Any]]) -> float:
    if len(requests) < 2:
        return 0.0
    span = max(r["end"] for r in requests) - min(r["start"] for r in requests)
    return len(requests) / max(span, 1e-9)


def _median(requests: list[dict[str, Any]]) -> float:
    return statistics.median(r["end"] - r["start"] for r in requests) if requests else 0.0


def engine_figures(trace: list[dict[str, Any]], idle_after: float = 1.0) -> list[tuple[str, str]]:
    """A thread's turnaround: from the end of one step to the start of its next, counting
    only gaps under `idle_after` (longer ones are waits for nothing due, e.g. the poll
    interval), and the claims that fed the threads."""
    steps = [e for e in trace if e["what"] == "step"]
    claims = [e for e in trace if e["what"] == "claim"]
    by_thread: dict[tuple[Any, str], list[dict[str, Any]]] = {}
    for step in steps:  # engine processes name their threads alike
        by_thread.setdefault((step.get("pid"), step["thread"]), []).append(step)
    gaps = []
    for runs in by_thread.values():
        runs.sort(key=lambda e: e["start"])
        gaps += [b["start"] - a["end"] for a, b in zip(runs, runs[1:], strict=False)]
    busy = [g for g in gaps if g < idle_after]
    leased = [c["got"] for c in claims if c["got"]]
    claim_ms = statistics.median(c["end"] - c["start"] for c in claims) * 1000 if claims else 0
    rows = [("engine turnaround between a thread's steps (gaps < 1 s)",
             f"{_ms(busy)} ({len(busy)} gaps; {len(gaps) - len(busy)} longer)"),
            ("engine step time (median)",
             f"{statistics.median(e['end'] - e['start'] for e in steps) * 1000:.0f} ms"
             if steps else "none"),
            ("engine claims: count / empty / tickets per claim / median time",
             f"{len(claims)} / {len(claims) - len(leased)} / "
             f"{statistics.mean(leased) if leased else 0:.1f} / "
             f"{claim_ms:.1f} ms")]
    return rows


def step_occupancy(trace: list[dict[str, Any]], *, wall: float) -> list[tuple[str, str]]:
    """Steps running at once on average (each holds a place under the cap from its claim
    to its end): set beside the requests in flight, the difference is the time a place
    spends in a step but not in an HTTP call (reading, storing, committing)."""
    steps = [e for e in trace if e["what"] == "step"]
    if not steps or wall <= 0:
        return []
    running = sum(e["end"] - e["start"] for e in steps) / wall
    by_state: dict[str, list[float]] = {}
    for e in steps:
        by_state.setdefault(e.get("state") or "?", []).append(e["end"] - e["start"])
    medians = ", ".join(f"{state} {statistics.median(times) * 1000:.0f} ms"
                        for state, times in sorted(by_state.items()))
    return [("engine steps running at once on average", f"{running:.1f}"),
            ("engine step time by state before the step (median)", medians)]


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def cpu_figures(*, engine: float, sandbox: float, wall: float, cores: int,
                busy: float) -> list[tuple[str, str]]:
    verdict = "CPU-bound" if busy >= CPU_BOUND else "not CPU-bound"
    return [("CPU s: engine / sandbox (of cores x wall)",
             f"{engine:.1f} / {sandbox:.1f} (of {cores} x {wall:.1f} = {cores * wall:.0f})"),
            ("machine CPU busy (/proc/stat, every process)",
             f"{busy:.0%} of {cores} cores: {verdict} (>= {CPU_BOUND:.0%})")]


def occupancy_figures(requests: list[dict[str, Any]], *, wall: float, cap: int,
                      endpoint: str = "claim-info", parts: int = 10) -> list[tuple[str, str]]:
    """Whether the cap's places stayed full: the requests answered at once on average (the
    sandbox's answer times over the wall time; a full cap averages `cap`), and the POSTs
    and GETs a second in each tenth of the run (the run's shape)."""
    answered = [r for r in requests if r["endpoint"] == endpoint]
    if not answered or wall <= 0:
        return [("requests in flight on average", "no request in the sandbox's request log")]
    start = min(r["start"] for r in answered)
    in_flight = sum(r["end"] - r["start"] for r in answered) / wall
    width = wall / parts
    posts, gets = [0] * parts, [0] * parts
    for r in answered:
        slot = min(parts - 1, max(0, int((r["start"] - start) / width)))
        (posts if r["method"] == "POST" else gets)[slot] += 1
    shape = ", ".join(f"{p / width:.0f}/{g / width:.0f}" for p, g in zip(posts, gets, strict=True))
    return [("requests in flight on average (answer times / wall) / cap",
             f"{in_flight:.1f} / {cap}"),
            (f"POSTs/GETs a second, by tenth of the run ({width:.1f} s each)", shape)]
