"""Is this installation working? The two facts monitoring needs, and nothing more: the
database answers, and a worker's engine pump has beaten recently.

Served at /healthz (503 when either fails) and by `manage.py healthz --check` for monitors
that cannot do HTTP. Neither says which host, which version, or how old the beat is: the
endpoint is public."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from revcycle.models import EnginePump

log = logging.getLogger("revcycle.health")


@dataclass(frozen=True)
class Health:
    database: bool
    worker: bool

    @property
    def ok(self) -> bool:
        return self.database and self.worker

    def as_dict(self) -> dict[str, str]:
        return {
            "status": "ok" if self.ok else "fail",
            "database": "ok" if self.database else "fail",
            # Without a database the beat cannot be read: say so, not "stale".
            "worker": "ok" if self.worker else ("stale" if self.database else "unknown"),
        }


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        log.warning("health: the database does not answer (%s)", type(exc).__name__)
        return False


def worker_beats() -> bool:
    """A pump beats every 2 s while it runs; one that stopped beating for longer than
    HEALTHZ_HEARTBEAT_SECONDS is dead or its worker is down."""
    since = timezone.now() - timedelta(seconds=settings.HEALTHZ_HEARTBEAT_SECONDS)
    try:
        return EnginePump.objects.filter(heartbeat_at__gte=since).exists()
    except DatabaseError as exc:
        log.warning("health: could not read the engine heartbeat (%s)", type(exc).__name__)
        return False


def check() -> Health:
    database = database_answers()
    return Health(database=database, worker=database and worker_beats())
