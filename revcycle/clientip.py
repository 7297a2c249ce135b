"""The client's address, for the login lockout (django-axes) and the audit log alike.

X-Forwarded-For is trusted only when BEHIND_PROXY is set: anyone can send the header, so
without a proxy in front it would let an attacker pick the address axes counts against."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: Any) -> str | None:
    if request is None:
        return None
    meta = getattr(request, "META", {})
    if settings.BEHIND_PROXY:
        hops = [h for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        # Each trusted proxy appends the address it saw: the client is the entry the
        # outermost trusted proxy appended, TRUSTED_PROXY_COUNT from the right. Entries
        # further left were written by the client and prove nothing.
        count = max(settings.TRUSTED_PROXY_COUNT, 1)
        if len(hops) >= count and (address := _valid(hops[-count])):
            return address
    return _valid(meta.get("REMOTE_ADDR", "") or "")
