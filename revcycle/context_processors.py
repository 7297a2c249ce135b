from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from revcycle.roles import role_names

    roles = role_names(user)
    return {"user_roles": roles, "is_manager": "manager" in roles or "admin" in roles,
            "is_admin": "admin" in roles}


def flagged(request: HttpRequest) -> dict[str, Any]:
    """Admins see, in the navigation, connections that need them (a 402, failing checks)."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    from revcycle.models import Connection

    return {"flagged_connections": Connection.objects.filter(flagged_at__isnull=False).count()}
