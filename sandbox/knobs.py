"""Fault knobs, request counters and the decorator every sandbox service view wears.

A knob is read, highest priority first, from the request header (`X-Sandbox-Latency-Ms`),
the runtime store (the SandboxKnobs row, changed by POST /sandbox/knobs or the
`sandbox_knobs` command, cached about a second), the setting (`SANDBOX_LATENCY_MS`), and
the built-in default. Benchmarks dial a running server; tests set headers or settings.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import requestlog
from sandbox.models import RequestCounter, SandboxKnobs

log = logging.getLogger(__name__)


def choice(*allowed: str) -> Callable[[Any], str]:
    """A cast for a knob that takes one of a few words."""

    def cast(value: Any) -> str:
        word = str(value).strip().lower()
        if word not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return word

    cast.__name__ = "choice"
    return cast


@dataclass(frozen=True)
class Knob:
    name: str
    cast: Callable[[Any], Any]
    default: Any
    help: str

    @property
    def header(self) -> str:
        """`X-Sandbox-Latency-Ms` as Django spells it in META."""
        return "HTTP_X_SANDBOX_" + self.name.upper().replace("-", "_")

    @property
    def header_name(self) -> str:
        return "X-Sandbox-" + "-".join(p.capitalize() for p in self.name.split("_"))

    @property
    def setting(self) -> str:
        return "SANDBOX_" + self.name.upper()


KNOBS: tuple[Knob, ...] = (
    Knob("latency_ms", int, 0, "milliseconds every service request sleeps before answering"),
    Knob("ready_after", float, 2.0, "seconds after an Integrex POST before its GET answers 200"),
    Knob("error_rate", float, 0.0, "fraction of service requests answered 500"),
    Knob("rate_429", float, 0.0, "fraction of service requests answered 429"),
    Knob("retry_after", int, 5, "Retry-After seconds on a 429"),
    Knob("token_lifetime", int, 0, "seconds a new token lives; 0 = the service's own "
                                    "(Integrex 3599, Smart 33499)"),
    Knob("revoke_every", int, 0, "revoke every token on each Nth authenticated request; 0 = off"),
    Knob("review_delay", float, 20.0, "seconds a payer claim stays under_review"),
    Knob("billed_after", float, 30.0, "seconds a Smart invoice stays Pending before Billed"),
    Knob("webhook_backoff", float, 2.0, "first webhook retry delay in seconds, doubled each try"),
    Knob("profile", choice("standard", "strict"), "standard",
         "strict: answer in the specifications' looser shapes (Spring error bodies, spec field "
         "names, numbers as strings, expiry refused with 400)"),
    Knob("claim_fault", choice("none", "timeout", "drop"), "none",
         "Smart claims: store the first post of an invoice, then hold the answer "
         "hang_seconds (timeout) or close the connection without answering (drop)"),
    Knob("hang_seconds", float, 40.0, "seconds a 'timeout' fault holds its answer"),
    Knob("index_delay", float, 0.0, "seconds after storing during which Smart's claim-status "
                                     "answers 404 (it stores first, lists later)"),
)
KNOBS_BY_NAME = {k.name: k for k in KNOBS}
# The header is named X-Sandbox-429-Rate in the brief; accept both spellings.
_HEADER_ALIASES = {"rate_429": ("HTTP_X_SANDBOX_429_RATE",)}

_CACHE_SECONDS = 1.0
_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"at": 0.0, "values": {}}


def clear_cache() -> None:
    with _cache_lock:
        _cache["at"] = 0.0
        _cache["values"] = {}


def stored_values() -> dict[str, Any]:
    """The store's non-null knobs, re-read at most once a second per process."""
    now = time.monotonic()
    with _cache_lock:
        if now - _cache["at"] < _CACHE_SECONDS:
            return dict(_cache["values"])
    row = SandboxKnobs.objects.filter(pk=1).first()
    values = {} if row is None else {
        k.name: getattr(row, k.name) for k in KNOBS if getattr(row, k.name) is not None
    }
    with _cache_lock:
        _cache["at"] = now
        _cache["values"] = values
    return dict(values)


def set_knobs(**values: Any) -> SandboxKnobs:
    """Set (or, with None, unset) stored knobs; unknown names raise ValueError."""
    unknown = set(values) - set(KNOBS_BY_NAME)
    if unknown:
        raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
    row, _ = SandboxKnobs.objects.get_or_create(pk=1)
    for name, value in values.items():
        setattr(row, name, None if value is None else KNOBS_BY_NAME[name].cast(value))
    row.save()
    clear_cache()
    return row


def reset_knobs() -> SandboxKnobs:
    return set_knobs(**{k.name: None for k in KNOBS})


def knob(name: str, request: HttpRequest | None = None) -> Any:
    """The effective value of one knob for this request."""
    spec = KNOBS_BY_NAME[name]
    if request is not None:
        for header in (spec.header, *_HEADER_ALIASES.get(name, ())):
            raw = request.META.get(header)
            if raw not in (None, ""):
                try:
                    return spec.cast(raw)
                except ValueError:
                    log.warning("ignoring bad %s header %r", spec.header_name, raw)
    stored = stored_values()
    if name in stored:
        return spec.cast(stored[name])
    return spec.cast(getattr(settings, spec.setting, spec.default))


def effective_knobs(request: HttpRequest | None = None) -> dict[str, Any]:
    return {k.name: knob(k.name, request) for k in KNOBS}


# Fault randomness is reproducible: request n of this process draws from a generator
# seeded with (SANDBOX_SEED, n), so a rerun of the same sequence fails the same requests.
_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def fault_rng() -> random.Random:
    with _sequence_lock:
        n = next(_sequence)
    return random.Random(f"{getattr(settings, 'SANDBOX_SEED', 1234)}:{n}")


def _release_pooled_connection() -> None:
    """With a connection pool (the bench's scale run on PostgreSQL), give the connection
    back while the request sleeps its latency: 64 requests in flight must not hold 64 of
    the server's connections (max_connections is 100, shared with the engines)."""
    from django.db import connection

    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def injected_fault(request: HttpRequest) -> HttpResponse | None:
    """Sleep the latency (real HTTP waiting), then maybe answer 500 or 429."""
    latency = knob("latency_ms", request)
    if latency > 0:
        _release_pooled_connection()
        time.sleep(latency / 1000)
    rng = fault_rng()
    if rng.random() < knob("error_rate", request):
        return JsonResponse({"error": "sandbox: injected server error"}, status=500)
    if rng.random() < knob("rate_429", request):
        retry_after = knob("retry_after", request)
        response = JsonResponse({"error": "sandbox: too many requests"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    return None


# Token endpoints, counted apart for "token requests for the whole batch".
TOKEN_ENDPOINTS = {("integrex", "auth"), ("smart", "oauth/token")}


# A request's counter: (service, endpoint, method).
RequestKey = tuple[str, str, str]


class InFlight:
    """Requests being answered right now, per service, and the most at once since the last
    reset: the proof that a connection's concurrency cap held across engines. Kept in this
    process's memory, so serve the sandbox from one process (threads) when it counts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._revocations = 0

    def enter(self, service: str, request: RequestKey | None = None) -> bool:
        """Count a request in; True when `request` was also counted here (it is not: the
        RequestCounter rows count it)."""
        with self.lock:
            self.now[service] = self.now.get(service, 0) + 1
            self.peak[service] = max(self.peak.get(service, 0), self.now[service])
        return False

    def request_counts(self) -> dict[RequestKey, int]:
        """Requests counted by enter() since the last reset (none here)."""
        return {}

    def revoked(self) -> None:
        """Every token was revoked: what any process remembers of a token is stale."""
        with self.lock:
            self._revocations += 1

    def revocations(self) -> int:
        """How many times every token was revoked (sandbox.tokens keeps a token it read
        as valid only while this stays the same)."""
        with self.lock:
            return self._revocations

    def leave(self, service: str) -> None:
        with self.lock:
            self.now[service] -= 1

    def reset(self) -> None:
        with self.lock:
            # Requests still running stay counted: the peak restarts from them.
            self.peak = dict(self.now)

    def peaks(self) -> dict[str, int]:
        with self.lock:
            return dict(self.peak)


class SharedInFlight(InFlight):
    """The same counts, shared by every process of a sandbox served by several (the
    bench's scale run needs more requests a second than one process can answer): kept in
    a small JSON file, changed under an exclusive flock, so the peak is the most requests
    answered at once by all the processes together.

    Every request changes the file twice (enter, leave), so it is written over in place
    through a descriptor each process opens once, rather than opened, truncated and
    rewritten by each (a new inode's worth of work twice a request, under the lock that
    every request of every process waits for).
    The record is padded to a fixed size, so a shorter one leaves no tail to truncate.

    The same write counts the request per (service, endpoint, method), which the stats
    report with the RequestCounter rows: a counter row UPDATEd by every request of every
    process was one more statement a request, all of them queued on one row's lock."""

    SIZE = 4096

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _descriptor(self) -> int:
        # One per process, opened after gunicorn's fork: a descriptor inherited from the
        # master would share one flock between every worker, which then excludes none.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def _change(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        with self.lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                state = json.loads(os.pread(fd, self.SIZE, 0).strip(b" \0") or b"{}")
                state.setdefault("now", {})
                state.setdefault("peak", {})
                change(state)
                record = json.dumps(state).encode()
                if len(record) > self.SIZE:
                    raise ValueError(f"in-flight record over {self.SIZE} bytes: {record[:80]!r}")
                os.pwrite(fd, record.ljust(self.SIZE), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return state

    def enter(self, service: str, request: RequestKey | None = None) -> bool:
        def change(state: dict[str, dict[str, int]]) -> None:
            now = state["now"][service] = state["now"].get(service, 0) + 1
            state["peak"][service] = max(state["peak"].get(service, 0), now)
            if request is not None:
                counts = state.setdefault("requests", {})
                key = self._key(request)
                counts[key] = counts.get(key, 0) + 1

        self.now = self._change(change)["now"]
        return request is not None

    @staticmethod
    def _key(request: RequestKey) -> str:
        return " ".join(request)  # no part holds a space: service and endpoint are ours

    def request_counts(self) -> dict[RequestKey, int]:
        counts = self._change(lambda state: None).get("requests", {})
        return {tuple(key.split(" ", 2)): n for key, n in counts.items()}  # type: ignore[misc]

    def leave(self, service: str) -> None:
        def change(state: dict[str, dict[str, int]]) -> None:
            state["now"][service] = state["now"].get(service, 0) - 1

        self.now = self._change(change)["now"]

    def revoked(self) -> None:
        def change(state: dict[str, Any]) -> None:
            state["revocations"] = state.get("revocations", 0) + 1

        self._change(change)

    def revocations(self) -> int:
        # A shared lock: only read, as every request's token check does.
        with self.lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                state = json.loads(os.pread(fd, self.SIZE, 0).strip(b" \0") or b"{}")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return int(state.get("revocations", 0))

    def reset(self) -> None:
        def change(state: dict[str, dict[str, int]]) -> None:
            state["peak"] = dict(state["now"])
            state.pop("requests", None)

        self._change(change)

    def peaks(self) -> dict[str, int]:
        return dict(self._change(lambda state: None)["peak"])


# SANDBOX_IN_FLIGHT_FILE: count across processes (the bench sets it; tests and the demo
# serve the sandbox from one process and count in memory).
IN_FLIGHT = (SharedInFlight(os.environ["SANDBOX_IN_FLIGHT_FILE"])
             if os.environ.get("SANDBOX_IN_FLIGHT_FILE") else InFlight())


def count_request(service: str, endpoint: str, method: str) -> None:
    keys = {"service": service, "endpoint": endpoint, "method": method}
    if RequestCounter.objects.filter(**keys).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            RequestCounter.objects.create(count=1, **keys)
    except IntegrityError:  # another thread created the row first
        RequestCounter.objects.filter(**keys).update(count=F("count") + 1)


def stats() -> dict[str, Any]:
    counts = {(r.service, r.endpoint, r.method): r.count for r in RequestCounter.objects.all()}
    for key, n in IN_FLIGHT.request_counts().items():
        counts[key] = counts.get(key, 0) + n
    endpoints = [{"service": service, "endpoint": endpoint, "method": method, "count": n}
                 for (service, endpoint, method), n in sorted(counts.items())]
    by_service: dict[str, dict[str, int]] = {}
    for (service, endpoint, method), n in sorted(counts.items()):
        s = by_service.setdefault(service, {"requests": 0, "token_requests": 0,
                                            "posts": 0, "gets": 0})
        s["requests"] += n
        if (service, endpoint) in TOKEN_ENDPOINTS:
            s["token_requests"] += n
        elif method == "POST":
            s["posts"] += n
        elif method == "GET":
            s["gets"] += n
    totals = {key: sum(s[key] for s in by_service.values())
              for key in ("requests", "token_requests", "posts", "gets")}
    peak = IN_FLIGHT.peaks()
    return {"endpoints": endpoints, "by_service": by_service, "totals": totals,
            "in_flight_peak": peak}


def reset_stats() -> None:
    RequestCounter.objects.all().delete()
    IN_FLIGHT.reset()


def service_endpoint(service: str, endpoint: str) -> Callable[[Callable], Callable]:
    """A machine API of a stand-in service: no CSRF, no revcycle login, counted, and
    subject to the latency/500/429 knobs before the view runs."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            key = (service, endpoint, request.method or "GET")
            counted = IN_FLIGHT.enter(service, key)
            started, response = time.time(), None
            try:
                if not counted:
                    count_request(*key)
                response = injected_fault(request)
                if response is None:
                    response = view(request, *args, **kwargs)
                return response
            finally:
                IN_FLIGHT.leave(service)
                if requestlog.enabled():
                    requestlog.record(service, endpoint, request, response, started, time.time())

        return login_not_required(csrf_exempt(wrapped))

    return decorate


def machine_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The sandbox's own control endpoints (knobs, stats): no CSRF, no login, no faults."""
    return login_not_required(csrf_exempt(view))
