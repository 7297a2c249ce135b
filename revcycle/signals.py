"""Audit logins, logouts and failed logins."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from revcycle.audit import record_event


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_event(request, "login", user=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event(request, "logout", user=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    record_event(request, "login_failed", detail=f"username {credentials.get('username', '')!s:.100}")


@receiver(post_migrate)
def _after_migrate(sender: Any, **kwargs: Any) -> None:
    """Keep role permissions and recurring jobs in step with the code, on every migrate."""
    from django.contrib.auth.models import Group, Permission

    from revcycle import schedules
    from revcycle.roles import ADMIN

    schedules.install()
    # Admins manage every model of revcycle's apps in the Django admin, and users.
    admin_group, _ = Group.objects.get_or_create(name=ADMIN)
    model_perms = Permission.objects.filter(
        content_type__app_label__in=["revcycle", "claims", "eligibility", "smartlink", "auth"]
    )
    admin_group.permissions.add(*model_perms)
