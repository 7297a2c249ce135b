"""OAuth sessions: one factory for both grants, and one token per connection shared by
every process.

Each service says its grant in its registration (revcycle/services.py): client credentials
(HTTP Basic client auth), or the password grant with a rotating refresh token. Tokens live
in the database (OAuthToken) so every worker process reuses the same one; each process
also keeps it in memory so that a request costs no query. Refreshing happens under a lock,
once: a thread lock inside the process and a row lock (PostgreSQL) or the write lock
(SQLite, IMMEDIATE transactions) across processes, re-reading the stored token after
taking it (docs/pitfalls.md, "OAuth")."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.db import models, transaction
from django.utils import timezone
from oauthlib.oauth2 import (
    BackendApplicationClient,
    LegacyApplicationClient,
    MissingTokenError,
    OAuth2Error,
)
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from revcycle import errors, services
from revcycle.http import mount_retries, timeouts
from revcycle.models import Connection, OAuthToken

log = logging.getLogger("revcycle.oauth")

# Refresh this long before expiry, so no request carries a token that dies in flight.
REFRESH_MARGIN = timedelta(seconds=120)


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: float  # epoch seconds


_cache: dict[int, CachedToken] = {}
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(connection_id: int) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(connection_id, threading.Lock())


def _fresh(expires_at: float) -> bool:
    return expires_at - REFRESH_MARGIN.total_seconds() > time.time()


def token_url(connection: Connection) -> str:
    default = services.for_connection(connection).token_path or "auth"
    return connection.url(connection.token_path or default)


def _password_grant(connection: Connection) -> bool:
    return services.for_connection(connection).auth == services.Auth.PASSWORD


def token_session(connection: Connection, token: dict[str, Any] | None = None) -> OAuth2Session:
    """The requests-oauthlib session for the connection's grant."""
    if _password_grant(connection):
        client = LegacyApplicationClient(client_id=connection.client_id)
    else:
        # Without client= fetch_token asks for an authorization code (requests-oauthlib #512).
        client = BackendApplicationClient(client_id=connection.client_id)
    session = OAuth2Session(client=client, token=token)
    mount_retries(session)
    status: dict[str, int] = {}

    def remember_status(response: requests.Response) -> requests.Response:
        status["code"] = response.status_code
        return response

    session.register_compliance_hook("access_token_response", remember_status)
    session.register_compliance_hook("refresh_token_response", remember_status)
    session.last_status = status  # type: ignore[attr-defined]
    return session


def _basic(connection: Connection) -> HTTPBasicAuth:
    return HTTPBasicAuth(connection.client_id, connection.client_secret)


def _request_token(connection: Connection, refresh_token: str = "") -> dict[str, Any]:
    """Ask the service for a token: refresh when we hold a refresh token, else log in."""
    session = token_session(connection)
    url = token_url(connection)
    token: dict[str, Any]  # requests-oauthlib has no type hints
    try:
        if refresh_token:
            token = session.refresh_token(url, refresh_token=refresh_token,
                                          auth=_basic(connection), timeout=timeouts())
        elif _password_grant(connection):
            token = session.fetch_token(url, username=connection.username,
                                        password=connection.password, auth=_basic(connection),
                                        timeout=timeouts())
        else:
            token = session.fetch_token(url, auth=_basic(connection), include_client_id=False,
                                        timeout=timeouts())
    except (MissingTokenError, ValueError, KeyError) as exc:
        # A page or a token-less answer: oauthlib reads a body that is not JSON as a form and
        # finds no token in it. Only a 401/402/403 says the credentials were refused.
        code = session.last_status.get("code")  # type: ignore[attr-defined]
        raise _unreadable(connection, code) from exc
    except OAuth2Error as exc:
        code = session.last_status.get("code")  # type: ignore[attr-defined]
        if code and code >= 500:
            raise errors.Unavailable(f"The token service had an error ({code}).",
                                     status=code) from exc
        raise errors.AuthenticationFailed(
            f"{connection.name}: the token service refused our credentials "
            f"({exc.error}, HTTP {code}). An admin should check the client id, secret"
            + (", username and password." if _password_grant(connection) else "."),
            status=code,
        ) from exc
    except requests.Timeout as exc:
        raise errors.Unavailable("The token service did not answer in time.") from exc
    except requests.RequestException as exc:
        raise errors.Unavailable(
            f"Could not reach the token service ({type(exc).__name__}).") from exc
    return token


def _unreadable(connection: Connection, code: int | None) -> errors.ApiError:
    """The error for a token answer that holds no token, by its HTTP status."""
    if code and code >= 500:
        return errors.Unavailable(f"The token service had an error ({code}).", status=code)
    if code in (401, 402, 403):
        return errors.AuthenticationFailed(
            f"{connection.name}: the token service refused our credentials (HTTP {code}).",
            status=code)
    return errors.BadResponse(
        f"{connection.name}: the token service gave an unreadable answer (HTTP {code}).",
        status=code)


REFRESH_LEASE = timedelta(seconds=45)


def _stored(row: OAuthToken, stale: str | None) -> CachedToken | None:
    if (row.access_token and row.access_token != stale and row.expires_at
            and _fresh(row.expires_at.timestamp())):
        return CachedToken(row.access_token, row.expires_at.timestamp())
    return None


def _obtain_and_store(connection: Connection, stale: str | None) -> CachedToken:
    """Reuse a token another process just stored, or become the one process that asks.

    The cross-process lock is a lease on the token row, taken with a conditional UPDATE,
    never a transaction held open across the HTTP call: on SQLite that would hold the
    database's write lock for the whole token request (and the in-process sandbox, which
    must write the token it issues, would wait on us)."""
    OAuthToken.objects.get_or_create(connection=connection)
    deadline = time.monotonic() + REFRESH_LEASE.total_seconds()
    while True:
        row = OAuthToken.objects.get(connection=connection)
        if cached := _stored(row, stale):
            return cached
        now = timezone.now()
        taken = OAuthToken.objects.filter(pk=row.pk).filter(
            models.Q(refreshing_until__isnull=True) | models.Q(refreshing_until__lt=now)
        ).update(refreshing_until=now + REFRESH_LEASE)
        if taken:
            break
        if time.monotonic() > deadline:
            raise errors.Unavailable("Another worker has been fetching a token for too long.")
        time.sleep(0.1)  # another process is asking; its token will be in the row shortly
    try:
        token = _fetch(connection, row.refresh_token)
        now = timezone.now()
        lifetime = float(token.get("expires_in") or 3600)
        with transaction.atomic():
            OAuthToken.objects.filter(pk=row.pk).update(
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token", "") or "",
                token_type=str(token.get("token_type", "bearer"))[:20],
                expires_at=now + timedelta(seconds=lifetime), obtained_at=now,
                requests_made=models.F("requests_made") + 1, refreshing_until=None,
            )
        log.info("connection %s: new token, valid %.0f s", connection.pk, lifetime)
        return CachedToken(token["access_token"], (now + timedelta(seconds=lifetime)).timestamp())
    finally:
        OAuthToken.objects.filter(pk=row.pk, refreshing_until__isnull=False).update(
            refreshing_until=None)


def _fetch(connection: Connection, refresh_token: str) -> dict[str, Any]:
    """Refresh when we hold a refresh token; log in again when that fails."""
    if refresh_token:
        try:
            return _request_token(connection, refresh_token=refresh_token)
        except errors.ApiError:
            # A spent or expired refresh token: log in again with the password.
            log.info("connection %s: refresh failed, logging in again", connection.pk)
    return _request_token(connection)


def access_token(connection: Connection, stale: str | None = None) -> str:
    """A valid access token for the connection; `stale` is one the service just refused."""
    cached = _cache.get(connection.pk)
    if cached and cached.access_token != stale and _fresh(cached.expires_at):
        return cached.access_token
    with _lock_for(connection.pk):
        cached = _cache.get(connection.pk)
        if cached and cached.access_token != stale and _fresh(cached.expires_at):
            return cached.access_token
        row = OAuthToken.objects.filter(connection=connection).first()
        if (stale is None and row and row.access_token and row.expires_at
                and _fresh(row.expires_at.timestamp())):
            cached = CachedToken(row.access_token, row.expires_at.timestamp())
        else:
            cached = _obtain_and_store(connection, stale)
        _cache[connection.pk] = cached
        return cached.access_token


def forget(connection_id: int) -> None:
    """Drop the in-memory copy (after credentials change)."""
    _cache.pop(connection_id, None)


def discard(connection_id: int) -> None:
    """Drop the stored token too, so the next call logs in with the current credentials
    (after they change, and for "test connection", which must really try them)."""
    forget(connection_id)
    OAuthToken.objects.filter(connection_id=connection_id).update(
        access_token="", refresh_token="", expires_at=None)
