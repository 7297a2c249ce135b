"""System checks for settings an operator must get right (`manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_encryption_keys(app_configs: Any, **kwargs: Any) -> list[Any]:
    from revcycle.crypto import _fernet_for

    problems: list[Any] = []
    for i, key in enumerate(settings.FIELD_ENCRYPTION_KEYS):
        try:
            _fernet_for(key)
        except Exception as exc:  # noqa: BLE001 - reported as a check error
            problems.append(Error(f"FIELD_ENCRYPTION_KEYS[{i}] is unusable: {exc}",
                                  id="revcycle.E001"))
    # The demo values ship in settings.py; they are public, so never usable in production.
    from revcycle.settings import _DEMO_FIELD_KEY, _DEMO_SECRET

    if not settings.DEBUG and _DEMO_FIELD_KEY in settings.FIELD_ENCRYPTION_KEYS:
        problems.append(Error("FIELD_ENCRYPTION_KEYS still holds the demo key", id="revcycle.E002"))
    if not settings.DEBUG and settings.SECRET_KEY == _DEMO_SECRET:
        problems.append(Error("SECRET_KEY is the demo key", id="revcycle.E003"))
    return problems


@register(deploy=True)
def check_sandbox_off_in_production(app_configs: Any, **kwargs: Any) -> list[Any]:
    if settings.SANDBOX_ENABLED and not settings.DEBUG:
        return [Warning("SANDBOX_ENABLED is on with DEBUG off: the sandbox is for demos",
                        id="revcycle.W001")]
    return []
