"""The audit log is append-only in the Django admin: no role, not even a superuser, can add,
change or delete an event there (every request answers 403 and the rows stay as they were)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from revcycle.audit import record_event
from revcycle.models import AuditEvent

ADMIN = "/admin/revcycle/auditevent/"


@pytest.fixture
def staff(alice: User, maya: User, ada: User) -> dict[str, User]:
    """Every role with is_staff set, so the admin's own permission checks decide, not its
    login page; and a superuser, who holds every model permission."""
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    for user in (alice, maya):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return {"biller": alice, "manager": maya, "admin": ada, "superuser": root}


@pytest.mark.parametrize("role", ["biller", "manager", "admin", "superuser"])
def test_no_role_can_add_change_or_delete_an_audit_event_in_the_admin(
        client_for: Any, staff: dict[str, User], role: str) -> None:
    event = record_event(None, "view", user=staff["admin"], detail="opened a claim",
                         object_type="claims.claim", object_id="7")
    client = client_for(staff[role])  # (signing in is itself an audit event)
    before = list(AuditEvent.objects.order_by("pk").values())

    answers = {
        "add page": client.get(f"{ADMIN}add/").status_code,
        "add": client.post(f"{ADMIN}add/", {"action": "view", "detail": "forged"}).status_code,
        "change": client.post(f"{ADMIN}{event.pk}/change/",
                              {"action": "delete", "detail": "rewritten"}).status_code,
        "delete page": client.get(f"{ADMIN}{event.pk}/delete/").status_code,
        "delete": client.post(f"{ADMIN}{event.pk}/delete/", {"post": "yes"}).status_code,
        "bulk delete": client.post(ADMIN, {"action": "delete_selected",
                                           "_selected_action": [event.pk],
                                           "post": "yes"}).status_code,
    }

    # Billers and managers hold no admin permission on the log at all; the bulk action is
    # simply not offered to admins (the changelist answers 200 and deletes nothing).
    bulk = 403 if role in ("biller", "manager") else 200
    assert answers == {"add page": 403, "add": 403, "change": 403, "delete page": 403,
                       "delete": 403, "bulk delete": bulk}
    assert list(AuditEvent.objects.order_by("pk").values()) == before
