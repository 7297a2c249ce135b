"""The permission backend: Django's ModelBackend, reading permissions with the roles in one
query (revcycle.roles.load_access).

Every page checks a permission and reads the user's roles, and a list page's budget is 10
queries (issue 18); Django reads a user's own permissions and their groups' permissions in
two queries, and the roles in a third."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from revcycle.roles import load_access


class ModelBackendOneQuery(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            load_access(user_obj)
        return user_obj._perm_cache
