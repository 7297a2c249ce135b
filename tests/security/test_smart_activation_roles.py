"""Defect 7: activating a Smart session is an admin's (README, Roles:
activate_smart_session), checked in one place (smartlink.visits.activate) that the desk's
view and the admin action both go through. Each role, each path."""

from __future__ import annotations

import pytest
import responses
from django.contrib.auth.models import Permission

from smartlink.models import SmartSession
from tests.smartlink.conftest import BASE, calls_to

MERGE = "api/visit/62863/visit-number/V77"
ROLES = [("alice", False), ("maya", False), ("ada", True)]


@pytest.fixture
def smart_api(api):
    api.add(responses.POST, f"{BASE}/{MERGE}", json={"sessionId": 62863, "status": "ACTIVE"})
    api.add(responses.GET, f"{BASE}/api/member", json={"memberNumber": "M1", "benefits": []})
    return api


def _staff_with_session_admin(user) -> None:
    """Let a non-admin reach the Smart session admin, so only the activation check stops
    them."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="smartlink",
        codename__in=["view_smartsession", "change_smartsession"]))


@pytest.mark.parametrize(("who", "allowed"), ROLES)
def test_the_desk_activates_only_for_a_role_with_the_permission(
        request, client_for, smart_api, session, who, allowed):
    user = request.getfixturevalue(who)
    response = client_for(user).post(f"/smart/sessions/{session.pk}/activate/",
                                     {"visit_number": "V77"}, HTTP_HX_REQUEST="true")
    session.refresh_from_db()
    assert (session.status == "ACTIVE") is allowed
    assert (len(calls_to(smart_api, MERGE)) == 1) is allowed
    if not allowed:
        assert response.status_code == 403


@pytest.mark.parametrize(("who", "allowed"), ROLES)
def test_the_admin_action_activates_only_for_a_role_with_the_permission(
        request, client_for, smart_api, session, who, allowed):
    user = request.getfixturevalue(who)
    if not allowed:
        _staff_with_session_admin(user)
    client_for(user).post("/admin/smartlink/smartsession/", {
        "action": "activate_for_visit", "_selected_action": [session.pk],
        "visit_number": "V77"})
    assert (SmartSession.objects.get(pk=session.pk).status == "ACTIVE") is allowed
    assert (len(calls_to(smart_api, MERGE)) == 1) is allowed

