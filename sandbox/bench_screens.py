"""`make bench --only screens` and `--only export`: each list screen and each HTMX rows
fragment with a million tickets in the database, on page 1 and on a deep page, and the
export of a million rows (issue 18).

Server time is measured in-process with Django's test client (the whole request through
the middleware, the view and the template, without a network); queries with
CaptureQueriesContext, without the transaction control around the session save. Beside the
wall time, the thread's CPU time of each request (time.thread_time): on a shared machine
the wall time counts the other sessions' load, the CPU time far less.

The deep page is the keyset equivalent of page 400: the cursor of the row that ends page
399 (what 399 "Next" clicks lead to). A poll is the rows fragment asked as its polling
element asks it (X-Poll, and X-Poll-Seen with the fingerprint of the rows it shows): with
nothing changed, it is answered 204."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
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
POLL = {**HTMX, "HTTP_X_POLL": "1"}


@dataclass(frozen=True)
class Screen:
    label: str
    first: str  # page 1
    deep: str  # the keyset equivalent of page DEEP_PAGE
    htmx: bool
    polled: bool = False  # asked as a poll: X-Poll and the fingerprint of what it shows


def deep_cursor(rows: Any, order: Sequence[str], per_page: int = 50) -> str:
    """`?after=` the row that ends page DEEP_PAGE - 1, as 399 clicks on "Next" lead to."""
    from urllib.parse import urlencode

    from revcycle.paging import KeysetPaginator

    position = (DEEP_PAGE - 1) * per_page
    try:
        row = rows.order_by(*order)[position - 1]
    except IndexError:  # a small seed (a trial run): the middle of the list
        position = max(rows.count() // 2, 1)
        row = rows.order_by(*order)[position - 1]
    return "?" + urlencode({"after": KeysetPaginator(rows, order, per_page)
                            .cursor_of(row, position)})


def _deep_urls(user: Any, batch_id: int) -> dict[str, str]:
    from claims.filters import SORTS
    from eligibility.views import ORDER as DISCOVERY_ORDER
    from followup import worklist
    from followup.filters import WorklistFilter
    from payer.models import PayerClaim
    from payer.views import ORDER as PAYER_ORDER
    from revcycle.batch_views import ROWS_ORDER, ROWS_PER_PAGE
    from revcycle.models import Ticket

    tickets = Ticket.objects.for_user(user).defer("request", "response")
    followup = WorklistFilter({}, worklist.needing_person(user)).qs
    return {
        "claims": deep_cursor(tickets.of_kind("claim_status"), SORTS["newest"]),
        "discovery": deep_cursor(tickets.of_kind("discovery"), DISCOVERY_ORDER),
        "followup": deep_cursor(followup, worklist.SORTS[worklist.DEFAULT_SORT]),
        "payer": deep_cursor(PayerClaim.objects.for_user(user), PAYER_ORDER),
        "batch": deep_cursor(Ticket.objects.filter(batch_id=batch_id)
                             .defer("request", "response"), ROWS_ORDER, ROWS_PER_PAGE),
    }


def screens(user: Any, batch_id: int) -> list[Screen]:
    """Every list screen of issue 18, each as a page, a rows fragment and (the worklists
    and the batch page, whose fragments poll) a poll."""
    urls = {"claims": reverse("claims:status_home"), "discovery": reverse("eligibility:home"),
            "followup": reverse("followup:worklist"), "payer": reverse("payer:list"),
            "batch": reverse("claims:batch_detail", args=[batch_id])}
    deep = _deep_urls(user, batch_id)
    names = {"claims": "claim-status worklist", "discovery": "discovery worklist",
             "followup": "follow-up worklist", "batch": "batch"}
    out = []
    for kind, htmx, polled in (("page", False, False), ("rows fragment", True, False),
                               ("poll", True, True)):
        for key, name in names.items():
            if polled and key == "followup":
                continue  # the follow-up worklist does not poll
            out.append(Screen(f"{name} {kind}", urls[key], urls[key] + deep[key], htmx,
                              polled))
    out.append(Screen("payer claims list page", urls["payer"], urls["payer"] + deep["payer"],
                      False))
    return out


@dataclass(frozen=True)
class Timing:
    ms: float  # wall time
    cpu_ms: float  # this thread's CPU time
    queries: int
    status: int


def timed_get(client: Client, url: str, headers: dict[str, str]) -> Timing:
    """One request: wall and CPU milliseconds, queries, status."""
    # The connection keeps its last 9,000 queries; once full, CaptureQueriesContext's
    # slice (by length before and after) is empty and a request would count 0 queries.
    db.queries_log.clear()
    with CaptureQueriesContext(db) as ctx:
        started, cpu = time.perf_counter(), time.thread_time()
        response = client.get(url, **headers)  # type: ignore[arg-type]
        _ = response.content
        cpu_ms = (time.thread_time() - cpu) * 1000
        ms = (time.perf_counter() - started) * 1000
    queries = sum(1 for q in ctx.captured_queries
                  if not q["sql"].upper().startswith(TRANSACTION_CONTROL))
    return Timing(ms, cpu_ms, queries, response.status_code)


def poll_headers(client: Client, url: str) -> dict[str, str]:
    """The headers the fragment's polling element sends: X-Poll and what it shows."""
    response: Any = client.get(url, **HTMX)  # type: ignore[arg-type]
    return {**POLL, "HTTP_X_POLL_SEEN": response["X-Poll-Seen"]}


def measure(client: Client, url: str, n: int, headers: dict[str, str],
            expect: int = 200) -> list[Timing]:
    for _ in range(2):  # warm up templates, caches and the database's pages
        timed_get(client, url, headers)
    timings = []
    for _ in range(n):
        timing = timed_get(client, url, headers)
        if timing.status != expect:
            raise RuntimeError(f"{url} answered HTTP {timing.status}, not {expect}")
        timings.append(timing)
    return timings


def screen_figures(client: Client, screen: Screen, n: int) -> list[Figure]:
    figures = []
    for where, url in (("page 1", screen.first), (f"page {DEEP_PAGE}", screen.deep)):
        headers = (poll_headers(client, url) if screen.polled
                   else dict(HTMX) if screen.htmx else {})
        timings = measure(client, url, n, headers, expect=204 if screen.polled else 200)
        times, cpu = [t.ms for t in timings], [t.cpu_ms for t in timings]
        queries = [t.queries for t in timings]
        median, p95 = kit.median(times), kit.percentile(times, 95)
        label = f"{screen.label}, {where}"
        figures.append(Figure(
            "screens", f"{label}: median / p95 ms (CPU median / p95 ms), queries",
            f"{median:.1f} / {p95:.1f} ({kit.median(cpu):.1f} / {kit.percentile(cpu, 95):.1f})"
            f" ms, {max(queries)} queries"))
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
                report(f"  {figure.measure.split(':')[0]}: {figure.value} "
                       f"(load {os.getloadavg()[0]:.1f})")
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
