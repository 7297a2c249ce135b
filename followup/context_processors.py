from __future__ import annotations

from typing import Any

from revcycle.polling import HtmxHttpRequest


def connection_trouble(request: HtmxHttpRequest) -> dict[str, Any]:
    """Admins see, in the navigation, how many connections keep failing."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff or (
            getattr(request, "htmx", False) and not request.htmx.boosted):
        return {}
    from followup.health import troubled

    return {"troubled_connections": len(troubled())}
