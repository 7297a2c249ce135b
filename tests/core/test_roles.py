"""Roles are groups with permissions: billers work, managers audit, admins configure."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from revcycle.roles import ADMIN_PERMS, BILLER_PERMS, MANAGER_PERMS

CHANGELIST = "/admin/revcycle/connection/"


def _codenames(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions
               .filter(content_type__app_label="revcycle").values_list("codename", flat=True))


@pytest.mark.parametrize("role,perms", [("biller", BILLER_PERMS), ("manager", MANAGER_PERMS)])
def test_each_role_group_holds_exactly_its_permissions_after_migrate(db: Any, role: str,
                                                                     perms: list[str]) -> None:
    assert _codenames(role) == set(perms)


def test_the_admin_group_holds_every_role_permission_and_the_model_permissions(db: Any) -> None:
    codenames = _codenames("admin")
    assert set(ADMIN_PERMS) <= codenames
    assert {"change_connection", "view_auditevent", "change_facility"} <= codenames


def test_a_biller_gets_403_on_the_audit_log(client_for: Any, alice: Any) -> None:
    assert client_for(alice).get("/audit/").status_code == 403


def test_a_biller_is_sent_away_from_the_admin(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_staff_biller_gets_403_on_the_connection_changelist(client_for: Any, alice: Any,
                                                               integrex: Any) -> None:
    alice.is_staff = True  # reaches the admin, so the custom has_*_permission decides
    alice.save(update_fields=["is_staff"])
    client = client_for(alice)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(f"{CHANGELIST}{integrex.pk}/change/").status_code == 403
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_a_manager_reads_the_audit_log(client_for: Any, maya: Any) -> None:
    from revcycle.audit import record_event

    record_event(None, "export", user=maya, detail="exported 12 rows",
                 object_type="claims.claim", object_id="4711")
    response = client_for(maya).get("/audit/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "exported 12 rows" in page and "4711" in page


def test_an_admin_sees_the_connections(client_for: Any, ada: Any, integrex: Any) -> None:
    response = client_for(ada).get(CHANGELIST)
    assert response.status_code == 200
    assert integrex.name in response.content.decode()
