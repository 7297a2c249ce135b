"""The credentials the stand-ins accept; the demo setup gives the same to its Connections.

Defaults are the Integrex quickstart's own test client and made-up Smart values; each can
be overridden by a setting of the same name.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    "SANDBOX_INTEGREX_CLIENT_ID": "TestClient",
    "SANDBOX_INTEGREX_CLIENT_SECRET": "fC65r876GHGV975r876TpG965E86408T6yp9Go6R976R086TF7",
    "SANDBOX_SMART_CLIENT_ID": "Himilo_HMIS",
    "SANDBOX_SMART_CLIENT_SECRET": "smart-sandbox-secret",
    "SANDBOX_SMART_USERNAME": "hmis",
    "SANDBOX_SMART_PASSWORD": "hmis-sandbox-password",
}


def credential(name: str) -> str:
    return str(getattr(settings, name, DEFAULTS[name]))


def integrex_client() -> tuple[str, str]:
    return credential("SANDBOX_INTEGREX_CLIENT_ID"), credential("SANDBOX_INTEGREX_CLIENT_SECRET")


def smart_client() -> tuple[str, str]:
    return credential("SANDBOX_SMART_CLIENT_ID"), credential("SANDBOX_SMART_CLIENT_SECRET")


def smart_user() -> tuple[str, str]:
    return credential("SANDBOX_SMART_USERNAME"), credential("SANDBOX_SMART_PASSWORD")
