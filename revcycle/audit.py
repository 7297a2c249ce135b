"""The audit trail: one call to record who viewed, exported or changed what; and the
registry of pages that show PHI, which PhiAccessMiddleware guards and audits."""

from __future__ import annotations

import contextvars
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from revcycle.clientip import client_ip
from revcycle.models import AuditEvent

# The request being served, so that a deletion deep inside the ORM (a signal) still knows
# who did it. Set by PhiAccessMiddleware for the length of each request.
current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("audit_request",
                                                                    default=None)


def _subject_of(obj: models.Model) -> tuple[Any, Any]:
    """The facility and encounter a record belongs to, following its links a few steps
    (a service line -> its result -> its ticket -> the ticket's facility)."""
    seen: set[int] = set()
    current: Any = obj
    for _ in range(4):
        if current is None or id(current) in seen:
            break
        seen.add(id(current))
        label = current._meta.label_lower
        if label == "revcycle.encounter":
            return current.facility, current
        facility = getattr(current, "facility", None) if _has_field(current, "facility") else None
        encounter = (getattr(current, "encounter", None)
                     if _has_field(current, "encounter") else None)
        if facility is not None or encounter is not None:
            return facility or getattr(encounter, "facility", None), encounter
        current = _first_parent(current)
    return None, None


def _has_field(obj: models.Model, name: str) -> bool:
    try:
        obj._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _first_parent(obj: models.Model) -> Any:
    """The record this one hangs off that is itself about a patient."""
    for field in obj._meta.concrete_fields:
        if (field.many_to_one or field.one_to_one) and field.related_model is not None \
                and is_phi_model(field.related_model):
            return getattr(obj, field.name, None)
    return None


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
        if facility is None or encounter is None:
            found_facility, found_encounter = _subject_of(obj)
            facility = facility or found_facility
            encounter = encounter if encounter is not None else found_encounter
    if request is not None and action in (AuditEvent.Action.VIEW, AuditEvent.Action.EXPORT):
        # The page recorded its own read: PhiAccessMiddleware adds no second row.
        request._audit_read_recorded = True
    return AuditEvent.objects.create(
        user=user,
        username=getattr(user, "username", "") if user else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        facility=facility,
        encounter=encounter,
        detail=detail[:500],
        ip_address=client_ip(request),
    )


def mask_username(typed: str) -> str:
    """What a failed login stores of the typed name: a password typed into the username
    box must not land in the audit log."""
    typed = typed.strip()
    return f"{typed[:2]}***" if typed else ""


# --- Pages that show PHI -------------------------------------------------------------


@dataclass(frozen=True)
class PhiPage:
    """A URL name whose page shows patient data. `model` and `pk_kwarg` name the record a
    detail page is about; list and search pages leave them empty."""

    view_name: str
    model: str = ""
    pk_kwarg: str = "pk"
    perm: str = "view_results"


PHI_PAGES: dict[str, PhiPage] = {}


def register_phi_pages(*pages: PhiPage) -> None:
    """Called by each app's AppConfig.ready() for the pages it serves."""
    for page in pages:
        PHI_PAGES[page.view_name] = page


# Fragments of a page (its polls, filters and tab reloads) are folded: at most one row per
# page (view and record, whatever the query string) and user per FOLD_SECONDS. A full page
# view always writes a row.
FOLD_SECONDS = 60
_FOLD_KEY = "audit_folded"


def _fold_key(request: Any) -> str:
    match = request.resolver_match
    raw = f"{match.view_name}|{sorted(match.kwargs.items())}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _folded(request: Any, recorded: bool = False) -> bool:
    """True when a fragment repeats a page recorded less than a minute ago; otherwise (or
    when the view `recorded` the read itself) remember this read in the session."""
    now = int(time.time())
    seen: dict[str, int] = request.session.get(_FOLD_KEY, {})
    key = _fold_key(request)
    is_fragment = request.headers.get("HX-Request") == "true"
    if not recorded and is_fragment and now - seen.get(key, 0) < FOLD_SECONDS:
        return True
    seen = {k: t for k, t in seen.items() if now - t < FOLD_SECONDS}
    seen[key] = now
    request.session[_FOLD_KEY] = seen
    return False


def record_page_read(request: Any, page: PhiPage) -> None:
    """One audit row for a read of a registered PHI page, unless the view wrote its own."""
    if getattr(request, "_audit_read_recorded", False):
        _folded(request, recorded=True)
        return
    if _folded(request):
        return
    kwargs = request.resolver_match.kwargs
    obj = None
    if page.model and page.pk_kwarg in kwargs:
        from django.apps import apps

        obj = apps.get_model(page.model)._default_manager.filter(pk=kwargs[page.pk_kwarg]).first()
    kind = "fragment" if request.headers.get("HX-Request") == "true" else "page"
    # The view name only: a search's query string may hold a patient's name.
    record_event(request, AuditEvent.Action.VIEW, obj, object_type=page.model if obj is None
                 else "", object_id=str(kwargs.get(page.pk_kwarg, "")) if obj is None else "",
                 detail=f"{kind} {request.resolver_match.view_name}")


# --- The Django admin ----------------------------------------------------------------

# Admin pages of records that are about patients: found from the model's links, so a model
# that moves to another app (or a new one) is covered without a list to keep up to date.
# A record kept per facility (a batch, a Smart session, a payer claim) is about its patients.
_PHI_ROOTS = {"revcycle.encounter", "revcycle.ticket"}
_NOT_PHI = {"revcycle.auditevent", "revcycle.facility", "revcycle.connection",
            "revcycle.oauthtoken", "revcycle.codedescription"}


def is_phi_model(model: type[models.Model], depth: int = 0) -> bool:
    label = model._meta.label_lower
    if label in _PHI_ROOTS:
        return True
    if label in _NOT_PHI or model._meta.app_label == "auth" or depth > 4:
        return False
    for field in model._meta.concrete_fields:
        related = field.related_model if (field.many_to_one or field.one_to_one) else None
        if related is None or related is model:
            continue
        if related._meta.label_lower == "revcycle.facility" or is_phi_model(related, depth + 1):
            return True
    return False


ADMIN_READS = {"change": "admin change view", "delete": "admin delete view",
               "changelist": "admin list", "history": "admin history"}


def record_admin_read(request: Any) -> None:
    """An admin page of a PHI model: `admin:<app>_<model>_<view>`."""
    from django.apps import apps

    match = request.resolver_match
    if getattr(request, "_audit_read_recorded", False) or match.namespace != "admin":
        return
    app_model, _, view = match.url_name.rpartition("_")
    if view not in ADMIN_READS:
        return
    model = next((m for m in apps.get_models()
                  if f"{m._meta.app_label}_{m._meta.model_name}" == app_model), None)
    if model is None or not is_phi_model(model) or _folded(request):
        return
    object_id = match.kwargs.get("object_id")
    obj = model._default_manager.filter(pk=object_id).first() if object_id else None
    if object_id and obj is None:
        return
    record_event(request, AuditEvent.Action.VIEW, obj,
                 object_type="" if obj else model._meta.label_lower,
                 detail=ADMIN_READS[view])
