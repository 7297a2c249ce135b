"""Connection health for admins: last health check, token state, and request metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from revcycle import metrics
from revcycle.models import Connection, OAuthToken

TROUBLE_WINDOW = timedelta(minutes=15)
TROUBLE_MIN_REQUESTS = 5
TROUBLE_ERROR_RATE = 0.5


def in_trouble(connection: Connection, now: datetime | None = None) -> bool:
    """Failing: the last health check failed, it is flagged, or more than half of at least
    five requests in the last 15 minutes failed."""
    now = now or timezone.now()
    if connection.last_health_ok is False or connection.flagged_at is not None:
        return True
    recent = metrics.summary(connection, now - TROUBLE_WINDOW)
    return (recent["requests"] >= TROUBLE_MIN_REQUESTS
            and recent["error_rate"] > TROUBLE_ERROR_RATE)


def troubled(now: datetime | None = None) -> list[Connection]:
    return [c for c in Connection.objects.filter(active=True) if in_trouble(c, now)]


def token_state(connection: Connection, now: datetime) -> str:
    token = OAuthToken.objects.filter(connection=connection).first()
    if token is None or not token.expires_at:
        return "no token yet"
    if token.expires_at <= now:
        return "expired (renewed on the next request)"
    minutes = int((token.expires_at - now).total_seconds() // 60)
    return f"valid for {minutes} min"


def panel(now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    rows = []
    for connection in Connection.objects.filter(active=True):
        rows.append({
            "connection": connection,
            "token": token_state(connection, now),
            "hour": metrics.summary(connection, now - timedelta(hours=1)),
            "day": metrics.summary(connection, now - timedelta(days=1)),
            "trouble": in_trouble(connection, now),
        })
    return rows
