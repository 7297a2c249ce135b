"""Integrex Health: one service, one connection kind, used by claim status (claims/) and
insurance discovery (eligibility/)."""

from __future__ import annotations

from typing import Any

from revcycle import services


def headers(connection: Any) -> dict[str, str]:
    # Integrex picks test or production data by this header, per call.
    return {"env": connection.environment}


SERVICE = services.Service(
    kind="integrex", currency="USD", label="Integrex Health", auth=services.Auth.CLIENT_CREDENTIALS,
    token_path="auth", headers=headers, credential_fields=("client_id", "client_secret"),
)
