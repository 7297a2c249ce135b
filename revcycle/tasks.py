"""django-q2 entry points for the shared core. Thin: ids in, domain functions called.

The engine no longer runs in django-q2 (it is `manage.py engine`). The two functions below
stay for tasks queued by a release before that change, so an upgraded cluster finds them;
they do nothing."""

from __future__ import annotations


def pump_engine(slot: int = 0) -> None:
    """Retired: the engine runs as `manage.py engine`."""


def ensure_pumps() -> int:
    """Retired with its schedule (schedules.RETIRED): the engine is supervised by systemd
    or compose, not restarted by the scheduler."""
    return 0
