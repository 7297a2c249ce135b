"""The idle sign-out notice in Chromium: it shows when the idle end is near and "stay
signed in" restarts the server's idle clock. The browser's clock is moved by Playwright;
the server's idle state is set in the session row. No test waits on wall time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore


def _session(page: Any) -> SessionStore:
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    return SessionStore(session_key=key)


@pytest.mark.e2e
def test_the_idle_notice_appears_before_the_end_and_stay_keeps_the_session(
        transactional_db, page, login, alice, settings):
    settings.SESSION_IDLE_TIMEOUT = 150
    settings.SESSION_IDLE_NOTICE = 120
    login(alice)
    page.clock.install()
    page.goto("/claims/")
    notice = page.locator("#idle-notice")
    assert notice.is_hidden()
    assert 140 <= int(page.get_attribute("body", "data-idle-seconds")) <= 150

    page.clock.fast_forward(31_000)  # 119 s left: inside the notice window
    notice.wait_for(state="visible")
    assert "signed out in 2 minutes" in notice.inner_text()

    # The server's idle clock has 10 s left: only "stay" can save the session now.
    session = _session(page)
    session["last_activity"] = time.time() - 140
    session.save()
    with page.expect_response(lambda r: r.url.endswith("/accounts/session/")
                              and r.request.method == "POST") as stayed:
        notice.get_by_role("button", name="Stay signed in").click()
    assert stayed.value.json()["idle_seconds"] == 150
    notice.wait_for(state="hidden")
    assert time.time() - _session(page)["last_activity"] < 5
    page.goto("/claims/")
    assert "/accounts/login/" not in page.url and page.locator("h1").inner_text() == "Claim status"


@pytest.mark.e2e
def test_a_tab_left_open_past_the_idle_end_goes_to_sign_in(
        transactional_db, page, login, alice, settings):
    settings.SESSION_IDLE_TIMEOUT = 150
    settings.SESSION_IDLE_NOTICE = 120
    login(alice)
    page.clock.install()
    page.goto("/claims/")
    session = _session(page)
    session["last_activity"] = time.time() - 151  # the server's idle end has passed
    session.save()
    page.clock.fast_forward(152_000)
    page.wait_for_url("**/accounts/login/**")
    assert "signed out after 2 minutes" in page.content()
