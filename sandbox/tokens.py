"""Bearer tokens for the Integrex and Smart stand-ins: issue, check, revoke."""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
import threading
from datetime import datetime, timedelta

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from sandbox import knobs
from sandbox.knobs import knob
from sandbox.models import SandboxToken

# The lifetimes the services document: Integrex "expires_in": 3599, Smart 33499.
DEFAULT_LIFETIME = {SandboxToken.Service.INTEGREX: 3599, SandboxToken.Service.SMART: 33499}

_auth_sequence = itertools.count(1)
_auth_lock = threading.Lock()


def token_lifetime(service: str, request: HttpRequest | None = None) -> int:
    return int(knob("token_lifetime", request) or DEFAULT_LIFETIME[service])


def issue_token(service: str, client_id: str, lifetime: int,
                with_refresh: bool = False) -> SandboxToken:
    return SandboxToken.objects.create(
        service=service, client_id=client_id,
        access_token=secrets.token_urlsafe(24),
        refresh_token=secrets.token_urlsafe(24) if with_refresh else "",
        expires_at=timezone.now() + timedelta(seconds=lifetime),
    )


# Tokens this process read as valid: (service, access token) -> (expires_at, how many
# revocations there had been). Every authenticated request checked its token with a
# SELECT; a token read once is good until it expires or tokens are revoked (by
# revoke_all_tokens, in any process of the sandbox: knobs.IN_FLIGHT counts revocations
# across processes, in the in-flight file the bench's processes share).
_valid: dict[tuple[str, str], tuple[datetime, int]] = {}
_valid_lock = threading.Lock()


def revoke_all_tokens() -> int:
    revoked = SandboxToken.objects.filter(revoked=False).update(revoked=True)
    knobs.IN_FLIGHT.revoked()
    return revoked


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_problem(request: HttpRequest, service: str) -> JsonResponse | None:
    """A 401 unless the request carries a live bearer token of this service.

    With the revoke_every knob at N, every Nth authenticated request first revokes all
    tokens, so clients must survive a server-side 401 (PITFALLS.md: refresh once, retry once).
    """
    every = knob("revoke_every", request)
    if every > 0:
        with _auth_lock:
            n = next(_auth_sequence)
        if n % every == 0:
            revoke_all_tokens()
    value = bearer_token(request)
    if not value:
        return JsonResponse({"error": "unauthorized: send Authorization: Bearer <token>"},
                            status=401)
    key, revocations = (service, value), knobs.IN_FLIGHT.revocations()
    with _valid_lock:
        known = _valid.get(key)
    if known is not None and known[1] == revocations and known[0] > timezone.now():
        return None
    token = SandboxToken.objects.filter(service=service, access_token=value).first()
    if token is None or not token.is_valid:
        reason = "unknown" if token is None else ("revoked" if token.revoked else "expired")
        return JsonResponse({"error": f"unauthorized: the access token is {reason}"},
                            status=401,
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    with _valid_lock:
        if len(_valid) >= 10_000:  # bounded: a client that takes a token per request
            _valid.clear()
        _valid[key] = (token.expires_at, revocations)
    return None
