"""Smart (SmartLink) as a service: the password grant with a rotating refresh token."""

from __future__ import annotations

from revcycle import services

SERVICE = services.Service(
    kind="smart", currency="KES", label="Smart (SmartLink)", auth=services.Auth.PASSWORD,
    token_path="oauth/token",
    credential_fields=("client_id", "client_secret", "username", "password"),
)
