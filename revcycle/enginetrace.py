"""A trace of the engine's claims and steps for the bench's timeline; off by default.

With ENGINE_TRACE_FILE set (the bench sets it), each claim and each step appends one JSON
line: what it was, its wall-clock start and end (time.time(), comparable with the
sandbox's request log), the thread, the ticket. Off, `record` returns at once.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

_lock = threading.Lock()
_files: dict[str, int] = {}


def path() -> str:
    return os.environ.get("ENGINE_TRACE_FILE", "")


def enabled() -> bool:
    return bool(path())


def record(what: str, start: float, end: float, **fields: Any) -> None:
    """Append one event; a line is one write() on an O_APPEND descriptor, so lines from
    several threads or engines do not interleave."""
    where = path()
    if not where:
        return
    line = json.dumps({"what": what, "start": start, "end": end,
                       "thread": threading.current_thread().name, "pid": os.getpid(), **fields})
    with _lock:
        fd = _files.get(where)
        if fd is None:
            fd = _files[where] = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, (line + "\n").encode())
