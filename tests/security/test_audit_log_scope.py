"""Defect 9: a manager reads the audit log of their own facilities only (admins read all),
and a failed login stores the typed username masked."""

from __future__ import annotations

from revcycle.audit import record_event
from revcycle.models import AuditEvent, Encounter
from tests.conftest import PASSWORD


def test_a_manager_reads_only_the_events_of_her_facilities(client_for, maya, ada, bob,
                                                           alice, encounter, lakeside):
    theirs = Encounter.objects.create(facility=lakeside, account_number="LAKE1")
    record_event(None, "view", encounter, user=alice, detail="st-marys-read")
    record_event(None, "view", theirs, user=bob, detail="lakeside-read")
    record_event(None, "login", user=bob, detail="bob-signed-in")
    record_event(None, "login", user=alice, detail="alice-signed-in")

    html = client_for(maya).get("/audit/").content.decode()
    assert "st-marys-read" in html and "alice-signed-in" in html
    assert "lakeside-read" not in html and "bob-signed-in" not in html

    html = client_for(ada).get("/audit/").content.decode()
    assert "lakeside-read" in html and "bob-signed-in" in html


def test_a_failed_login_stores_the_typed_username_masked(client, alice, ada, client_for):
    typed = "correct-horse-typed-in-the-wrong-box"
    client.post("/accounts/login/", {"username": typed, "password": PASSWORD})
    event = AuditEvent.objects.get(action="login_failed")
    assert event.detail == "username co***"
    assert not AuditEvent.objects.filter(detail__contains="horse").exists()
    assert "horse" not in client_for(ada).get("/audit/").content.decode()
