"""Encryption at rest for secrets and PHI, and keyed blind indexes for lookups.

A field of our own over cryptography's MultiFernet, so that keys rotate (newest first in
FIELD_ENCRYPTION_KEYS) and a wrong key fails loudly with InvalidToken instead of handing
back ciphertext (docs/pitfalls.md, "Encryption at rest").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


def _fernet_for(key: str) -> Fernet:
    raw = key.encode()
    try:
        return Fernet(raw)
    except ValueError:
        # Accept any long passphrase too, stretched to a Fernet key, so an operator can
        # paste a random string; a proper key (Fernet.generate_key()) is used as is.
        if len(key) < 32:
            raise ImproperlyConfigured(
                "each FIELD_ENCRYPTION_KEYS entry needs 32+ characters") from None
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(k) for k in keys])


def fernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted: refusing to treat plain text as a secret")
    return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()


def encrypt_bytes(plaintext: bytes) -> bytes:
    """A Fernet token (no prefix: a binary column holds nothing else)."""
    return fernet().encrypt(plaintext)


def decrypt_bytes(token: bytes | memoryview) -> bytes:
    return fernet().decrypt(bytes(token))


def rotate(stored: str) -> str:
    """Re-encrypt a stored value under the newest key."""
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()


def blind_index(value: str, purpose: str) -> str:
    """A keyed HMAC of a normalised value, for equality lookups on encrypted columns."""
    normalised = "".join(ch for ch in value.upper() if ch.isalnum())
    if not normalised:
        return ""
    key = f"{settings.BLIND_INDEX_KEY}:{purpose}".encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text stored as Fernet ciphertext; the empty string stays empty so blank is cheap."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON document (a request or raw answer holding PHI) stored encrypted."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(PREFIX):
            return json.loads(decrypt(value))
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, default=str, separators=(",", ":")))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj), default=str)


def mask_ssn(ssn: str | None) -> str:
    digits = "".join(ch for ch in (ssn or "") if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else ("***-**-****" if digits else "")


def mask_secret(value: str | None) -> str:
    return "•••••• (set)" if value else "(not set)"
