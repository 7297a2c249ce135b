from __future__ import annotations

from typing import Any

from revcycle.polling import HtmxHttpRequest


def _is_fragment(request: HtmxHttpRequest) -> bool:
    """HTMX fragments (polls included) render no navigation: spend no queries on it."""
    return bool(getattr(request, "htmx", False)) and not request.htmx.boosted


def navigation(request: HtmxHttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or _is_fragment(request):
        return {}
    from revcycle.roles import role_names

    roles = role_names(user)
    return {"user_roles": roles, "is_manager": "manager" in roles or "admin" in roles,
            "is_admin": "admin" in roles}


def flagged(request: HtmxHttpRequest) -> dict[str, Any]:
    """Admins see, in the navigation, connections that need them (a 402, failing checks)."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff or _is_fragment(request):
        return {}
    from revcycle.models import Connection

    return {"flagged_connections": Connection.objects.filter(flagged_at__isnull=False).count()}


STALL_CHECK_SECONDS = 10
_stall_cache: list[Any] = [None, False]  # [checked at, lookups wait with no pump alive]


def clear_stall_cache() -> None:
    _stall_cache[:] = [None, False]


def engine_status(request: HtmxHttpRequest) -> dict[str, Any]:
    """Warn everyone when lookups wait and no engine pump has beaten in a while: the worker
    is down (killed, not started), and nothing will move until it is back."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or _is_fragment(request):
        return {}
    from datetime import timedelta

    from django.db.models import Exists
    from django.utils import timezone

    from revcycle.models import EnginePump, Ticket

    now = timezone.now()
    # Asked on every full page; the answer changes on a scale of minutes (a pump is stale
    # after 30 s), so one process asks the database at most every STALL_CHECK_SECONDS.
    cached_at, waiting = _stall_cache
    if cached_at is None or (now - cached_at).total_seconds() >= STALL_CHECK_SECONDS:
        alive = EnginePump.objects.filter(heartbeat_at__gte=now - timedelta(seconds=30))
        waiting = (Ticket.objects.filter(state__in=Ticket.OPEN_STATES,
                                         next_poll_at__lt=now - timedelta(seconds=30))
                   .filter(~Exists(alive)).exists())
        _stall_cache[:] = [now, waiting]
    return {"engine_stalled": waiting}


def session_timeout(request: HtmxHttpRequest) -> dict[str, Any]:
    """What static/js/session.js needs to warn before the idle logoff."""
    if _is_fragment(request):
        return {}
    from django.conf import settings

    from revcycle.middleware import idle_seconds_left

    left = idle_seconds_left(request)
    if left is None:
        return {}
    notice = settings.SESSION_IDLE_NOTICE
    return {"idle_seconds_left": left, "idle_notice_seconds": notice,
            "idle_notice_minutes": max(round(notice / 60), 1)}
