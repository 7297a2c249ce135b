"""Audit logins, logouts, failed logins and deletions of people and patient accounts."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_migrate
from django.dispatch import receiver

from revcycle.audit import current_request, mask_username, record_event
from revcycle.models import Encounter


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_event(request, "login", user=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event(request, "logout", user=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    # Masked: people type their password into the username box.
    username = mask_username(str(credentials.get("username", ""))[:100])
    record_event(request, "login_failed", detail=f"username {username}")


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=Encounter)
def _deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """The audit rows about a deleted person or account keep their ids (AuditEvent's links
    have no constraint); this row says when and by whom it went."""
    request = current_request.get()
    record_event(request, "delete", instance,
                 facility=getattr(instance, "facility", None) if sender is Encounter else None,
                 detail=f"deleted {instance._meta.label_lower} {instance.pk}")


@receiver(post_migrate)
def _after_migrate(sender: Any, **kwargs: Any) -> None:
    """Keep roles, shipped code descriptions and recurring jobs in step with the code.

    Runs after every `migrate`, and after the flush that ends each transactional test,
    which empties the tables data migrations filled. Django sends post_migrate once per
    app: this acts on the last app's, when every app's permissions exist, rather than
    doing the same work sixteen times (over a second of each flush on PostgreSQL)."""
    if sender is not _last_app_with_models():
        return
    from django.contrib.auth.models import Group, Permission

    from revcycle import codes, schedules
    from revcycle.models import CodeDescription
    from revcycle.roles import ADMIN, ROLE_PERMS

    schedules.install()
    for role, codenames in ROLE_PERMS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(
            content_type__app_label="revcycle", codename__in=codenames))
    # Admins manage every model of revcycle's apps in the Django admin, and users.
    Group.objects.get(name=ADMIN).permissions.add(*Permission.objects.filter(
        content_type__app_label__in=[*_project_app_labels(), "auth"]))
    if not CodeDescription.objects.exists():
        CodeDescription.objects.bulk_create(
            CodeDescription(**dataclasses.asdict(row)) for row in codes.read_shipped())
        codes.clear_cache()


def _last_app_with_models() -> Any:
    """The app whose post_migrate comes last (Django sends it in INSTALLED_APPS order, to
    apps that have a models module)."""
    from django.apps import apps

    return [config for config in apps.get_app_configs() if config.models_module][-1]


def _project_app_labels() -> list[str]:
    """The apps that live in this repository (the core, each service's app, follow-up)."""
    from django.apps import apps
    from django.conf import settings

    root = str(settings.BASE_DIR)
    return [config.label for config in apps.get_app_configs() if config.path.startswith(root)]
