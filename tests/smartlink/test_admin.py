import responses

from smartlink.models import SmartSession
from tests.smartlink.conftest import BASE, calls_to

MERGE = f"{BASE}/api/visit/62863/visit-number/V77"


def _activate(client, session, **extra):
    return client.post("/admin/smartlink/smartsession/", {
        "action": "activate_for_visit", "_selected_action": [session.pk], **extra})


def test_an_admin_activates_a_session_for_a_visit_from_the_admin(api, client_for, ada, session):
    api.add(responses.POST, MERGE, json={"status": "ACTIVE"})
    api.add(responses.GET, f"{BASE}/api/member", json={"memberNumber": "M1", "benefits": []})

    form = _activate(client_for(ada), session)
    assert b"Activate Smart session 62863" in form.content
    _activate(client_for(ada), session, visit_number="V77")

    session.refresh_from_db()
    assert (session.status, session.visit_number, session.activated_by) == ("ACTIVE", "V77", ada)


def test_the_admin_action_needs_the_activate_smart_session_permission(api, client_for, maya,
                                                                     session):
    maya.is_staff = True
    maya.save()
    from django.contrib.auth.models import Permission
    maya.user_permissions.add(*Permission.objects.filter(content_type__app_label="smartlink",
                                                         codename__in=["view_smartsession",
                                                                       "change_smartsession"]))

    _activate(client_for(maya), session, visit_number="V77")

    assert calls_to(api, "api/visit/62863/visit-number/V77") == []
    assert SmartSession.objects.get(pk=session.pk).status == "PENDING"
