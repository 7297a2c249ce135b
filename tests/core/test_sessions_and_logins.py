"""Sessions end after 15 idle minutes; repeated failed logins lock the account."""

from __future__ import annotations

import time
from typing import Any

from revcycle.models import AuditEvent
from tests.conftest import PASSWORD


def _set_last_activity(client: Any, seconds_ago: float) -> None:
    session = client.session
    session["last_activity"] = time.time() - seconds_ago
    session.save()


def test_a_session_idle_for_15_minutes_is_signed_out(client_for: Any, alice: Any) -> None:
    client = client_for(alice)
    assert client.get("/").status_code == 200
    _set_last_activity(client, 15 * 60 + 5)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    login_page = client.get(response["Location"])
    assert "signed out after 15 minutes" in login_page.content.decode()
    assert client.get("/").status_code == 302  # signed out for good, not just redirected once


def test_a_session_used_within_15_minutes_stays_signed_in(client_for: Any, alice: Any) -> None:
    client = client_for(alice)
    client.get("/")
    _set_last_activity(client, 14 * 60)
    assert client.get("/").status_code == 200
    assert time.time() - client.session["last_activity"] < 60  # the clock restarted


def test_five_failed_logins_lock_the_account(client: Any, alice: Any, settings: Any) -> None:
    settings.AXES_ENABLED = True
    answers = [client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
               for _ in range(5)]
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    # Four failures show the form again; the fifth locks (axes answers 429 from then on).
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed").count() >= 4


def test_a_correct_login_works_and_is_audited(client: Any, alice: Any, settings: Any) -> None:
    settings.AXES_ENABLED = True
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="login", username="alice").count() == 1


def test_a_poll_after_the_session_ended_sends_the_whole_page_to_sign_in(client, db):
    response = client.get("/claims/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/")
