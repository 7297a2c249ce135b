"""With DEBUG on, the development servers answer on loopback only.

DEBUG's error pages show settings and each frame's local variables, secrets included, to
whoever reaches the server: on loopback that is only this machine's user. Production runs
with DEBUG off and chooses its own bind address."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.management.base import CommandError


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def refuse_public_address_with_debug(host: str) -> None:
    """Raise CommandError when DEBUG is on and `host` is not a loopback address."""
    if settings.DEBUG and not is_loopback(host):
        raise CommandError(
            f"DEBUG is on, so this server binds loopback only (127.0.0.1, ::1 or localhost), "
            f"not {host!r}: DEBUG's error pages would show settings and secrets to anyone who "
            f"can reach that address. Serve other addresses only with DEBUG=0 and production "
            f"settings.")
