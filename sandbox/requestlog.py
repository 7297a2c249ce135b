"""The sandbox's log of the requests it answered, for the bench's timeline; off by default.

With SANDBOX_REQUEST_LOG set (the bench sets it), every service request appends one JSON
line: service, endpoint, method, status, the request id it created or asked for, and its
wall-clock start and end (time.time(), comparable with revcycle.enginetrace).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse

_lock = threading.Lock()
_fd: dict[int, int] = {}  # per process: gunicorn forks after import


def enabled() -> bool:
    return bool(os.environ.get("SANDBOX_REQUEST_LOG"))


def request_id(request: HttpRequest, response: HttpResponse) -> str:
    """The remote ticket a request is about: the id a POST created, or the one a GET asks."""
    if request.method == "GET":
        return request.GET.get("id", "")
    if response.status_code == 200 and response.get("Content-Type", "").startswith(
            "application/json"):
        try:
            body = json.loads(response.content)
        except ValueError:
            return ""
        return str(body.get("id", "")) if isinstance(body, dict) else ""
    return ""


def record(service: str, endpoint: str, request: HttpRequest, response: HttpResponse | None,
           start: float, end: float) -> None:
    where = os.environ.get("SANDBOX_REQUEST_LOG", "")
    if not where:
        return
    entry: dict[str, Any] = {"service": service, "endpoint": endpoint,
                             "method": request.method, "start": start, "end": end,
                             "status": response.status_code if response is not None else 0,
                             "id": request_id(request, response) if response is not None else ""}
    with _lock:
        fd = _fd.get(os.getpid())
        if fd is None:
            fd = _fd[os.getpid()] = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                                            0o600)
    os.write(fd, (json.dumps(entry) + "\n").encode())
