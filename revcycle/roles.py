"""Roles are Django groups with permissions, created by migration 0002.

biller: run lookups, see results, export. manager: biller plus batches and the audit log.
admin: manager plus connections, environments, Smart session activation and users.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied

BILLER, MANAGER, ADMIN = "biller", "manager", "admin"
ROLES = (BILLER, MANAGER, ADMIN)

# Custom permissions are declared on revcycle.AuditEvent's Meta.
BILLER_PERMS = ["run_lookups", "view_results", "export_results"]
MANAGER_PERMS = BILLER_PERMS + ["manage_batches", "view_audit_log", "override_duplicates"]
ADMIN_PERMS = MANAGER_PERMS + ["manage_connections", "switch_environment", "activate_smart_session"]
ROLE_PERMS = {BILLER: BILLER_PERMS, MANAGER: MANAGER_PERMS, ADMIN: ADMIN_PERMS}
# What each permission lets a person do, in the words the 403 page shows (templates/403.html).
ACTIONS = {
    "run_lookups": "run lookups and submit claims",
    "view_results": "see results",
    "export_results": "export results",
    "manage_batches": "manage batch uploads",
    "view_audit_log": "read the audit log",
    "override_duplicates": "override a duplicate invoice",
    "manage_connections": "manage connections",
    "switch_environment": "switch a connection between test and production",
    "activate_smart_session": "activate Smart sessions",
}


def load_access(user: Any) -> None:
    """The user's roles and permissions, read in one query and kept on the user object for
    the request: every page asks both (the second-factor check and the navigation read the
    roles, the view's permission check the permissions), and a list page's budget is 10
    queries (issue 18). Django's own backend would spend two on the permissions alone."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import CharField, Value

    through_roles = Group.objects.filter(user=user).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename").order_by()
    own = Permission.objects.filter(user=user).values_list(
        Value("", output_field=CharField()), "content_type__app_label", "codename").order_by()
    roles, perms = set(), set()
    for role, app, codename in through_roles.union(own, all=True):
        if role:
            roles.add(role)
        if codename:
            perms.add(f"{app}.{codename}")
    user._role_names = roles | (set(ROLES) if user.is_superuser else set())
    user._perm_cache = perms


def role_names(user: Any) -> set[str]:
    if not user.is_authenticated:
        return set()
    if getattr(user, "_role_names", None) is None:
        load_access(user)
    return user._role_names


def has_perm(user: Any, codename: str) -> bool:
    return user is not None and user.is_authenticated and user.has_perm(f"revcycle.{codename}")


def refusal(codename: str) -> str:
    """Why a 403: the action in words and the roles that may do it, never the codename."""
    allowed = [f"{role}s" for role in ROLES if codename in ROLE_PERMS[role]]
    who = " and ".join(allowed) if allowed else "no role"
    return f"Your role does not allow you to {ACTIONS.get(codename, 'do this')}: only {who} can."


def permission_required(codename: str) -> Callable:
    """View decorator: 403 unless the user's role grants `codename`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not has_perm(request.user, codename):
                raise PermissionDenied(refusal(codename))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def can_see_full_ssn(user: Any) -> bool:
    """Managers and admins may see and export SSNs in full; everyone else sees them masked
    (the full number is rarely needed to work an account, and a CSV leaves our access
    controls)."""
    return bool(role_names(user) & {MANAGER, ADMIN})
