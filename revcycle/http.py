"""The one HTTP layer: timeouts, retries with backoff, the env header, a User-Agent, and
status codes turned into the errors of revcycle/errors.py.

Retries here cover connection errors and 502/503/504 for idempotent methods only: urllib3
leaves POST out of its retried methods, and we keep it so (docs/pitfalls.md, "HTTP"). A
GET or HEAD whose connection closed unanswered is sent once more at once; a read timeout
never is. A 429
is handed back as RateLimited so the engine can slow the whole connection down instead of
holding a worker thread asleep."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import RequestHistory, Retry

from revcycle import errors, services

log = logging.getLogger("revcycle.http")
USER_AGENT = "revcycle/0.1 (+revenue-cycle client)"
_local = threading.local()


@dataclass
class ApiResponse:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def timeouts() -> tuple[float, float]:
    return (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT)


# The longest Retry-After the HTTP layer sleeps in a worker thread; a longer one reaches the
# engine in the error's retry_after.
RETRY_AFTER_SLEEP_MAX = 5.0


# Safe to send again: once more at once when their connection closed unanswered
# (_Retry.increment), and later by the engine when it is Unavailable (send).
RESENT_METHODS = frozenset(["GET", "HEAD"])


class _Retry(Retry):
    """urllib3's Retry without its long sleeps: it retries a 429 that carries Retry-After
    and sleeps the whole Retry-After (up to six hours) inside the worker thread. A 429 goes
    back to the engine at once (RateLimited slows the whole connection); a 503's Retry-After
    is slept for a few seconds at most."""

    RETRY_AFTER_STATUS_CODES = frozenset([503])

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, RETRY_AFTER_SLEEP_MAX)

    def increment(self, method: str | None = None, url: str | None = None,
                  response: Any = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> _Retry:
        """Send a GET or HEAD once more, at once, when its connection closed unanswered.

        A kept-alive connection that the server closes as our request leaves (its idle
        timer ran out) fails with "connection aborted" before any answer. With read=0 the
        GET came back as Unavailable and waited the engine's backoff, 12 to 18 s, for a
        request that had never been read. Go's HTTP client re-sends a replayable request on
        a reused connection for the same reason. Only the first such drop is re-sent, and
        only for GET and HEAD, the methods whose drop send() calls Unavailable (never POST);
        a read timeout is not a drop and is never re-sent."""
        if self._first_drop_of_resendable(method, error):
            history = self.history + (RequestHistory(method, url, error, None, None),)
            total = None if self.total is None else self.total - 1
            if total is None or total >= 0:
                return self.new(total=total, history=history)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def _first_drop_of_resendable(self, method: str | None, error: Exception | None) -> bool:
        return (isinstance(error, ProtocolError) and (method or "").upper() in RESENT_METHODS
                and not any(isinstance(h.error, ProtocolError) for h in self.history))


# What requests reads from the environment on every request when trust_env is on.
ENVIRONMENT_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


def environment_matters() -> bool:
    """Whether a proxy, a CA bundle or a .netrc is set for this process.

    With trust_env on, requests looks all three up again for every request (the proxy
    variables parsed, ~/.netrc opened): 7% of the engine's CPU per API call. When none is
    set, turning trust_env off changes nothing but that cost; when one is, it stays on."""
    if urllib.request.getproxies() or any(os.environ.get(v) for v in ENVIRONMENT_VARIABLES):
        return True
    home = os.path.expanduser("~")
    return any(os.path.exists(os.path.join(home, name)) for name in (".netrc", "_netrc"))


def mount_retries(session: requests.Session) -> requests.Session:
    retry = _Retry(
        total=settings.HTTP_RETRIES,
        connect=settings.HTTP_RETRIES,
        read=0,  # a read timeout means the server may have acted: the caller decides
        # (a GET whose connection closed unanswered: _Retry.increment)
        status=settings.HTTP_RETRIES,
        status_forcelist=(502, 503, 504),
        backoff_factor=0.5,
        backoff_jitter=0.25,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=64)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = environment_matters()
    return session


def plain_session() -> requests.Session:
    """A per-thread session for unauthenticated calls (health checks, token endpoints)."""
    session = getattr(_local, "plain", None)
    if session is None:
        session = _local.plain = mount_retries(requests.Session())
    return session


def service_headers(connection: Any) -> dict[str, str]:
    """Headers every call to this connection carries."""
    return {"Accept": "application/json", **services.for_connection(connection).headers(connection)}


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send one request, turning transport failures into revcycle errors."""
    kwargs.setdefault("timeout", timeouts())
    try:
        return session.request(method, url, **kwargs)
    except requests.ConnectTimeout as exc:
        raise errors.Unavailable("The service did not answer the connection in time.") from exc
    except requests.ReadTimeout as exc:
        raise errors.UnknownOutcome(
            "The service took too long to answer; it may still have acted on the request."
        ) from exc
    except requests.ConnectionError as exc:
        if method.upper() in RESENT_METHODS:  # safe to send again: the engine will
            raise errors.Unavailable("Could not reach the service (connection error).") from exc
        raise errors.UnknownOutcome(
            "The connection dropped; the service may or may not have received the request."
        ) from exc
    except requests.RequestException as exc:
        raise errors.Unavailable(f"The request failed: {exc.__class__.__name__}.") from exc


def parse_body(response: requests.Response) -> Any:
    text = response.text
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"_unparsed": text[:2000]}


def server_message(data: Any, default: str) -> str:
    """The message the server gave, from the keys services commonly use."""
    if isinstance(data, dict):
        for key in ("error_description", "error", "message", "detail", "Message", "errors"):
            value = data.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value)[:500]
        if "_unparsed" in data:
            return f"{default} (the service answered with a page, not JSON)"
    if isinstance(data, str) and data:
        return data[:500]
    return default


def check_status(response: requests.Response, data: Any, service: str) -> None:
    """Raise the revcycle error for a non-2xx answer."""
    status = response.status_code
    if status < 400:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    message = server_message(data, f"{service} answered HTTP {status}.")
    kwargs = {"status": status, "retry_after": retry_after, "body": data}
    if status == 400 or status == 422:
        raise errors.BadRequest(message, **kwargs)
    if status == 401:
        raise errors.Unauthorized(message, **kwargs)
    if status == 402 or status == 403:
        raise errors.AuthenticationFailed(
            f"{service} refused our credentials or our IP address ({status}): {message}", **kwargs
        )
    if status == 404:
        raise errors.NotFound(message, **kwargs)
    if status in (409, 410):
        raise errors.Conflict(message, **kwargs)
    if status == 429:
        raise errors.RateLimited(f"{service} asked us to slow down (429).", **kwargs)
    if status >= 500:
        raise errors.Unavailable(f"{service} had an error ({status}): {message}", **kwargs)
    raise errors.BadRequest(message, **kwargs)
