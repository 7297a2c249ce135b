"""Choices a list screen shows beside its rows (a filter's payers, the colleagues to assign
to, the re-check policy) kept a short while in process memory.

Each costs a query on every request otherwise, and the follow-up worklist's distinct payers
scan every ticket of the user's facilities: with a million tickets that alone misses the
screen's budget (issue 18: at most 10 queries and 100 ms). A value may be up to
`ttl` seconds stale in another process; the process that changes one forgets it at once
(`forget`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_values: dict[Hashable, tuple[float, Any]] = {}
_lock = threading.Lock()
MAX_ENTRIES = 1000  # one per facility set and kind of choice: a bound against growth


def get(key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
    now = time.monotonic()
    with _lock:
        hit = _values.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        if len(_values) >= MAX_ENTRIES:
            _values.clear()
        _values[key] = (now + ttl, value)
    return value


def forget(prefix: Hashable) -> None:
    """Drop every entry whose key is `prefix` or a tuple starting with it."""
    with _lock:
        for key in [k for k in _values
                    if k == prefix or (isinstance(k, tuple) and k and k[0] == prefix)]:
            del _values[key]


def clear() -> None:
    with _lock:
        _values.clear()
