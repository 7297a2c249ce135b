"""django-q2 entry points of follow-up. Thin: they call the domain functions."""

from __future__ import annotations

from followup import digest, rechecks


def run_rechecks() -> int:
    """Every 15 minutes: requeue due claims if inside the off-hours window."""
    return rechecks.run().requeued


def send_daily_digests() -> int:
    """Daily: each person's digest, at most once a day."""
    return digest.send_all()
