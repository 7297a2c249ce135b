"""The HCMS payer claims API as a service: no token, an API key and provider id on every
call."""

from __future__ import annotations

from typing import Any

from revcycle import services


def headers(connection: Any) -> dict[str, str]:
    sent = {}
    if connection.api_key:
        sent["X-API-Key"] = connection.api_key
    if connection.provider_id:
        sent["X-Provider-ID"] = connection.provider_id
    return sent


# The payer a connection of this kind sends claims to: what the screens' Payer column shows
# (a connection's name, "HCMS payer sandbox", is where we send, not who pays).
PAYER_NAME = "HCMS"

SERVICE = services.Service(
    kind="payer", currency="USD", label="Payer claims API (HCMS)", auth=services.Auth.NONE,
    headers=headers,
    credential_fields=("api_key", "provider_id", "webhook_secret"),
)
