"""`make bench --only screens` and `--only export`: each list screen and each HTMX rows
fragment with a million tickets in the database, on page 1 and on a deep page, and the
export of a million rows (issue 18).

Server time is measured in-process with Django's test client (the whole request through
the middleware, the view and the template, without a network); queries with
CaptureQueriesContext, without the transaction control around the session save."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sandbox import benchgoals as goals
from sandbox import benchkit as kit
from sandbox.benchkit import Figure

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
DEEP_PAGE = 400
HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass(frozen=True)
class Screen:
    label: str
    first: str  # page 1
    deep: str  # a page far down the list
    htmx: bool
    polled: bool = False  # a fragment every open tab asks every few seconds


def _followup_deep_url(user: Any, url: str, size: int = 50) -> str:
    """The keyset cursor of the row that ends page DEEP_PAGE - 1 (what "next" leads to)."""
    from followup import worklist

    field, _kind, _desc = worklist.SORTS[worklist.DEFAULT_SORT]
    qs = worklist.needing_person(user).order_by(field, "id")
    row = qs.values_list(field, "id")[(DEEP_PAGE - 1) * size - 1]
    return f"{url}?after={row[0]}~{row[1]}"


def screens(user: Any, batch_id: int) -> list[Screen]:
    """Every list screen of issue 18, each as a page and (where it has one) a fragment."""
    claims = reverse("claims:status_home")
    discovery = reverse("eligibility:home")
    followup = reverse("followup:worklist")
    payer = reverse("payer:list")
    batch = reverse("claims:batch_detail", args=[batch_id])
    deep = f"?page={DEEP_PAGE}"
    followup_deep = _followup_deep_url(user, followup)
    out = []
    for htmx in (False, True):
        kind = "rows fragment" if htmx else "page"
        out += [
            Screen(f"claim-status worklist {kind}", claims, claims + deep, htmx, polled=htmx),
            Screen(f"discovery worklist {kind}", discovery, discovery + deep, htmx, polled=htmx),
            Screen(f"follow-up worklist {kind}", followup, followup_deep, htmx),
            Screen(f"batch {kind}", batch, batch + deep, htmx, polled=htmx),
        ]
    out.append(Screen("payer claims list page", payer, payer + deep, False))
    return out


def timed_get(client: Client, url: str, htmx: bool) -> tuple[float, int, int]:
    """(milliseconds, queries, status) of one request."""
    headers: Any = HTMX if htmx else {}
    with CaptureQueriesContext(db) as ctx:
        started = time.perf_counter()
        response = client.get(url, **headers)
        _ = response.content
        ms = (time.perf_counter() - started) * 1000
    queries = sum(1 for q in ctx.captured_queries
                  if not q["sql"].upper().startswith(TRANSACTION_CONTROL))
    return ms, queries, response.status_code


def measure(client: Client, url: str, n: int, htmx: bool) -> tuple[list[float], list[int]]:
    for _ in range(2):  # warm up templates, caches and the database's pages
        timed_get(client, url, htmx)
    times, queries = [], []
    for _ in range(n):
        ms, count, status = timed_get(client, url, htmx)
        if status != 200:
            raise RuntimeError(f"{url} answered HTTP {status}")
        times.append(ms)
        queries.append(count)
    return times, queries


def screen_figures(client: Client, screen: Screen, n: int) -> list[Figure]:
    figures = []
    for where, url in (("page 1", screen.first), (f"page {DEEP_PAGE}", screen.deep)):
        times, queries = measure(client, url, n, screen.htmx)
        median, p95 = kit.median(times), kit.percentile(times, 95)
        label = f"{screen.label}, {where}"
        figures.append(Figure("screens", f"{label}: median / p95 ms, queries",
                              f"{median:.1f} / {p95:.1f} ms, {max(queries)} queries"))
        for check in goals.screen_checks(p95_ms=p95, queries=queries, median_ms=median,
                                         poll=screen.polled):
            figures.append(kit.check_figure("screens", check, label=label))
    return figures


def run_screens(user: Any, batch_id: int, n: int, report: Callable[[str], None]) -> list[Figure]:
    client = Client()
    client.force_login(user)
    client.get(reverse("claims:status_home"))  # the session's first request records activity
    figures = []
    for screen in screens(user, batch_id):
        measured = screen_figures(client, screen, n)
        figures += measured
        for figure in measured:
            if figure.measure.endswith("queries"):
                report(f"  {figure.measure.split(':')[0]}: {figure.value}")
    return figures


# Export --------------------------------------------------------------------------------


def consume(response: Any) -> tuple[int, int]:
    """(data lines, bytes) of a streamed CSV, read chunk by chunk as a browser would."""
    if response.status_code != 200:
        raise RuntimeError(f"export answered HTTP {response.status_code}")
    lines = size = 0
    chunks = response.streaming_content if response.streaming else [response.content]
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return max(0, lines - 1), size


def run_export(user: Any, url: str, expected: int, *, xlsx: bool = True,
               report: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """The worklist export of `expected` rows as CSV, then as .xlsx: rows a second and the
    growth of resident memory (VmHWM, reset before each)."""
    client = Client()
    client.force_login(user)
    figures = []
    for fmt in ("csv", "xlsx") if xlsx else ("csv",):
        rss_before = kit.reset_peak_rss()
        started = time.perf_counter()
        response: Any = client.get(url, {"format": fmt} if fmt != "csv" else {})
        if fmt == "csv":
            rows, size = consume(response)
        else:
            size = sum(len(chunk) for chunk in response.streaming_content)
            rows = expected if response.status_code == 200 else 0
        seconds = time.perf_counter() - started
        growth = kit.peak_rss() - rss_before
        figures.append(Figure("export", f"{fmt}: {rows:,} rows ({size / 1e6:.0f} MB) in "
                                        f"{seconds:.0f} s", f"{rows / seconds:,.0f} rows/s",
                              f"{expected:,} rows", rows >= expected))
        figures.append(Figure("export", f"{fmt}: peak memory growth (resident, VmHWM)",
                              f"{growth / 1e6:.1f} MB", f"<= {goals.EXPORT_MEMORY_MB_MAX:g} MB",
                              growth <= goals.EXPORT_MEMORY_MB_MAX * 1e6))
        # Each format takes minutes at a million rows: say so as each ends.
        report(f"  {fmt}: {rows:,} rows in {seconds:.0f} s, +{growth / 1e6:.1f} MB")
    return figures
