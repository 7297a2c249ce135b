"""Authorised calls to a connection: the one way every domain client talks to a service."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from revcycle import errors, metrics, oauth, services, throttle
from revcycle.http import (
    ApiResponse,
    check_status,
    mount_retries,
    parse_body,
    send,
    service_headers,
)
from revcycle.models import Connection

log = logging.getLogger("revcycle.api")
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = mount_retries(requests.Session())
    return session


def call(
    connection: Connection,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    ticket_id: int | None = None,
) -> ApiResponse:
    """Send one request with the connection's token and headers; raise revcycle errors.

    A 401 refreshes the token once and sends once more (auto-refresh never reacts to a
    server-side 401: docs/pitfalls.md, "OAuth")."""
    throttle.acquire(connection)
    headers = service_headers(connection)
    needs_token = services.for_connection(connection).uses_oauth
    token = oauth.access_token(connection) if needs_token else None
    response, elapsed = _send(connection, method, path, token, headers, params, json, ticket_id)
    if response.status_code == 401 and needs_token:
        token = oauth.access_token(connection, stale=token)
        response, elapsed = _send(connection, method, path, token, headers, params, json,
                                  ticket_id)
    data = parse_body(response)
    check_status(response, data, connection.get_kind_display())
    return ApiResponse(response.status_code, data, dict(response.headers), elapsed)


def _send(connection: Connection, method: str, path: str, token: str | None,
          headers: dict[str, str], params: dict[str, Any] | None, json: Any,
          ticket_id: int | None) -> tuple[requests.Response, float]:
    """One request, counted in the connection's metrics; returns the answer and its
    milliseconds."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    try:
        response = send(_session(), method, connection.url(path), params=params, json=json,
                        headers=headers)
    except errors.ApiError:
        metrics.record(connection.pk, None, (time.monotonic() - started) * 1000)
        raise
    elapsed = (time.monotonic() - started) * 1000
    metrics.record(connection.pk, response.status_code, elapsed)
    log.info("%s %s -> %s in %.0f ms (connection %s, ticket %s)", method, path.split("?")[0],
             response.status_code, elapsed, connection.pk, ticket_id)
    return response, elapsed


def health_check(connection: Connection) -> tuple[bool, str]:
    """The unauthenticated health check, then a token: what 'test connection' shows."""
    from django.utils import timezone

    from revcycle.http import plain_session

    ok = True
    message: str  # every way through below says what happened
    try:
        if connection.health_check_path:
            response = send(plain_session(), "GET", connection.url(connection.health_check_path),
                            headers=service_headers(connection))
            if response.status_code >= 400:
                ok, message = False, f"Health check answered HTTP {response.status_code}."
        if ok and services.for_connection(connection).uses_oauth:
            oauth.discard(connection.pk)
            oauth.access_token(connection)
            message = "Health check passed and a token was issued."
        elif ok:
            message = "Health check passed."
    except errors.ApiError as exc:
        ok, message = False, exc.message
    Connection.objects.filter(pk=connection.pk).update(
        last_health_ok=ok, last_health_message=message[:500], last_health_at=timezone.now()
    )
    return ok, message
