"""Request metrics per connection: counts, errors and a latency histogram per minute.

`record()` is called by revcycle/api.py after every answer (and on every exception); it
only adds to in-memory counters of this process, and writes them to the database
(ConnectionMinute) at most every FLUSH_SECONDS and when the process exits.
Percentiles are estimated from the histogram, so storage stays one row per connection and
minute however many requests there are."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("revcycle.metrics")

# Upper bounds (ms) of the latency buckets; one more bucket holds slower answers.
BOUNDS_MS: tuple[float, ...] = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400)
FLUSH_SECONDS = 5.0

_lock = threading.Lock()
# (connection_id, minute epoch seconds) -> [requests, errors, bucket counts...]
_pending: dict[tuple[int, int], list[int]] = {}
_last_flush = time.monotonic()


def bucket_index(elapsed_ms: float) -> int:
    for i, bound in enumerate(BOUNDS_MS):
        if elapsed_ms <= bound:
            return i
    return len(BOUNDS_MS)


def is_error(status: int | None) -> bool:
    """What the error count counts: no answer at all (`None`: a timeout, a dropped
    connection), a 5xx, or refused credentials (402/403)."""
    return status is None or status >= 500 or status in (402, 403)


def record(connection_id: int, status: int | None, elapsed_ms: float, ok: bool | None = None,
           now: float | None = None) -> None:
    """Count one request; `status` is None when no answer came. Whether it counts as an
    error is `is_error(status)` unless `ok` says otherwise."""
    global _last_flush
    if ok is None:
        ok = not is_error(status)
    minute = int((now if now is not None else time.time()) // 60 * 60)
    with _lock:
        row = _pending.setdefault((connection_id, minute), [0, 0] + [0] * (len(BOUNDS_MS) + 1))
        row[0] += 1
        row[1] += 0 if ok else 1
        row[2 + bucket_index(max(0.0, elapsed_ms))] += 1
        due = time.monotonic() - _last_flush >= FLUSH_SECONDS
        if due:
            _last_flush = time.monotonic()
    if due:
        try:
            flush()
        except Exception as exc:  # noqa: BLE001 - metrics must never break a request
            log.warning("metrics flush failed: %s", type(exc).__name__)


def flush() -> int:
    """Add this process's counters to the database; returns the rows written."""
    from django.db import transaction

    from revcycle.models import ConnectionMinute

    with _lock:
        taken = dict(_pending)
        _pending.clear()
    if not taken:
        return 0
    from revcycle.models import Connection

    # A connection deleted since its requests were counted takes its counts with it.
    existing = set(Connection.objects.filter(
        pk__in={key[0] for key in taken}).values_list("pk", flat=True))
    written = 0
    for (connection_id, minute), counts in sorted(taken.items()):
        if connection_id not in existing:
            continue
        at = datetime.fromtimestamp(minute, tz=UTC)
        try:
            with transaction.atomic():
                row, _ = ConnectionMinute.objects.select_for_update().get_or_create(
                    connection_id=connection_id, minute=at,
                    defaults={"latency_buckets": [0] * (len(BOUNDS_MS) + 1)})
                buckets = list(row.latency_buckets or []) + [0] * (len(BOUNDS_MS) + 1)
                row.requests += counts[0]
                row.errors += counts[1]
                row.latency_buckets = [a + b for a, b in
                                       zip(buckets[: len(BOUNDS_MS) + 1], counts[2:], strict=True)]
                row.save(update_fields=["requests", "errors", "latency_buckets"])
                written += 1
        except Exception as exc:  # noqa: BLE001 - e.g. the connection was deleted
            log.warning("metrics for connection %s dropped: %s", connection_id,
                        type(exc).__name__)
    return written


def percentile(buckets: list[int], q: float) -> float | None:
    """Estimate the q-quantile (0..1) in ms, interpolating linearly inside a bucket."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for i, n in enumerate(buckets):
        upper = BOUNDS_MS[i] if i < len(BOUNDS_MS) else BOUNDS_MS[-1] * 2
        if n and seen + n >= rank:
            return round(lower + (upper - lower) * (rank - seen) / n, 1)
        seen += n
        lower = upper
    return BOUNDS_MS[-1] * 2


def summary(connection: Any, since: datetime) -> dict[str, Any]:
    """Requests, errors, error rate and estimated p50/p95 (ms) since a time."""
    from revcycle.models import ConnectionMinute

    connection_id = getattr(connection, "pk", connection)
    requests = errors = 0
    buckets = [0] * (len(BOUNDS_MS) + 1)
    since = since.replace(second=0, microsecond=0)
    for row in ConnectionMinute.objects.filter(connection_id=connection_id, minute__gte=since):
        requests += row.requests
        errors += row.errors
        for i, n in enumerate((row.latency_buckets or [])[: len(buckets)]):
            buckets[i] += n
    return {"requests": requests, "errors": errors,
            "error_rate": round(errors / requests, 3) if requests else 0.0,
            "p50_ms": percentile(buckets, 0.5), "p95_ms": percentile(buckets, 0.95)}


def last(minutes: int) -> datetime:
    from django.utils import timezone

    return timezone.now() - timedelta(minutes=minutes)


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception as exc:  # noqa: BLE001 - the process is going away; say so and go
        log.warning("metrics flush at exit failed: %s", type(exc).__name__)


atexit.register(_flush_at_exit)
