"""The failures of an external call, as the engine and the views need to tell them apart.

`permanent` errors need a person (bad data, wrong credentials); the others are retried
with backoff. Messages are written for the biller or admin who will read them."""

from __future__ import annotations


class ApiError(Exception):
    permanent = False

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, body: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    """400: the data was refused; resending it unchanged will fail again."""

    permanent = True


class NotFound(ApiError):
    permanent = True


class Conflict(ApiError):
    """409 and similar: the service already has this (a merged session, a seen invoice)."""

    permanent = True


class Unauthorized(ApiError):
    """401 after a fresh token: the token is refused even after one refresh."""


class AuthenticationFailed(ApiError):
    """402 or 403, or a refused login: credentials or IP allow-list. Stops the connection."""

    permanent = True


class RateLimited(ApiError):
    """429: the service asks us to slow down, for `retry_after` seconds."""


class Unavailable(ApiError):
    """5xx, a connection error or a timeout before anything was sent: safe to retry."""


class UnknownOutcome(ApiError):
    """A read timeout or dropped connection after a request was sent: the service may have
    acted. Anything that must not exist twice is looked up before it is sent again."""


class BadResponse(ApiError):
    """The answer could not be read (HTML error page, empty body, wrong types)."""
