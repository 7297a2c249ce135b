"""Defects 13 and 14: flash messages stay in the session (a message can name a patient),
and no signed-in page, fragment or download may be cached."""

from __future__ import annotations

import pytest

from revcycle.models import Connection

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_flash_messages_travel_in_the_session_not_a_cookie(client_for, ada, integrex):
    client = client_for(ada)
    response = client.post("/admin/revcycle/connection/", {
        "action": "clear_flags", "_selected_action": [integrex.pk]})
    assert response.status_code == 302
    assert "messages" not in response.cookies
    page = client.get(response["Location"])
    assert "Held work resumes" in page.content.decode()
    assert "messages" not in page.cookies and "messages" not in client.cookies
    assert Connection.objects.filter(pk=integrex.pk).exists()


@pytest.mark.parametrize(("path", "headers"), [
    ("/", {}),
    ("/encounters/", {}),
    ("/encounters/?q=DOE", HTMX),
    ("/claims/", HTMX),
    ("/eligibility/", {}),
    ("/smart/", {}),
    ("/followup/", HTMX),
    ("/followup/dashboard/", {}),
    ("/claims/status/export.csv", {}),
    ("/followup/settings/", {}),
])
def test_every_signed_in_page_says_no_store(client_for, alice, encounter, path, headers):
    response = client_for(alice).get(path, **headers)
    assert response.status_code == 200, path
    assert "no-store" in response["Cache-Control"]


def test_the_admin_and_audit_pages_say_no_store(client_for, ada):
    client = client_for(ada)
    for path in ("/admin/", "/audit/", "/admin/revcycle/encounter/"):
        assert "no-store" in client.get(path)["Cache-Control"], path
