"""django-q2 entry points for Smart. Thin, and they take no patient data."""

from __future__ import annotations

from revcycle import engine
from smartlink import flow


def check_open_invoices() -> dict[str, int]:
    """Scheduled: re-check every invoice Smart has not finished with (money at risk), and
    record PENDING sessions that lapsed. Idempotent: a ticket still running is left alone."""
    expired = flow.expire_lapsed_sessions()
    requeued = flow.requeue_open()
    if requeued:
        engine.kick()
    return {"requeued": requeued, "sessions_expired": expired}
