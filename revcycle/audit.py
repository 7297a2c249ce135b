"""The audit trail: one call to record who viewed, exported or changed what."""

from __future__ import annotations

from typing import Any

from django.db import models

from revcycle.models import AuditEvent


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    request: Any,
    action: str,
    obj: models.Model | None = None,
    *,
    user: Any = None,
    detail: str = "",
    facility: Any = None,
    encounter: Any = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Append an audit event. `detail` must never carry PHI: ids, counts and filters only."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        facility = facility or getattr(obj, "facility", None)
        if encounter is None:
            encounter = obj if obj._meta.label_lower == "revcycle.encounter" else getattr(
                obj, "encounter", None
            )
    return AuditEvent.objects.create(
        user=user,
        username=getattr(user, "username", "") if user else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        facility=facility,
        encounter=encounter,
        detail=detail[:500],
        ip_address=_client_ip(request),
    )
