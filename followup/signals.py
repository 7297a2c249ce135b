"""Admins manage follow-up's models (the re-check policy above all) in the Django admin."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _admin_permissions(sender: Any, **kwargs: Any) -> None:
    if getattr(sender, "name", "") != "followup":
        return
    from django.contrib.auth.models import Group, Permission

    from revcycle.roles import ADMIN

    group, _ = Group.objects.get_or_create(name=ADMIN)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="followup"))
