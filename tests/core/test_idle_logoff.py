"""Polls are not activity: a page left polling signs its user out after 15 idle minutes;
every session ends 12 hours after sign-in whatever the activity (issue 14, defect 2).
The middleware's clock is moved by hand: no test waits."""

from __future__ import annotations

import time
from typing import Any

import pytest

from revcycle import middleware
from tests.conftest import POLL

LOGIN = "/accounts/login/"


class MovedClock:
    """Stands in for the `time` module the idle middleware reads."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: Any) -> MovedClock:
    moved = MovedClock()
    monkeypatch.setattr(middleware, "time", moved)
    return moved


def test_a_page_polled_for_16_minutes_ends_the_session_at_the_next_full_page(
        client_for: Any, alice: Any, clock: MovedClock) -> None:
    client = client_for(alice)
    assert client.get("/claims/").status_code == 200
    started = client.session["last_activity"]
    for _ in range(29):  # a poll every 30 s up to 14.5 minutes: all answered
        clock.advance(30)
        poll = client.get("/claims/", **POLL)
        assert "HX-Redirect" not in poll and poll.status_code in (200, 286)
    assert client.session["last_activity"] == started  # no poll moved the idle clock
    clock.advance(90)  # 16 minutes since the last full page
    page = client.get("/claims/")
    assert page.status_code == 302 and page["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session
    assert "signed out after 15 minutes" in client.get(page["Location"]).content.decode()


def test_a_poll_after_15_idle_minutes_sends_the_whole_page_to_sign_in(
        client_for: Any, alice: Any, clock: MovedClock) -> None:
    client = client_for(alice)
    client.get("/claims/")
    clock.advance(15 * 60 + 1)
    poll = client.get("/claims/", **POLL)
    assert poll["HX-Redirect"].startswith(LOGIN)  # htmx loads the login page, not a fragment
    assert b"<form" not in poll.content
    assert "_auth_user_id" not in client.session
    assert "signed out after 15 minutes" in client.get(poll["HX-Redirect"]).content.decode()


def test_a_full_page_within_the_idle_timeout_restarts_the_clock(
        client_for: Any, alice: Any, clock: MovedClock) -> None:
    client = client_for(alice)
    client.get("/claims/")
    clock.advance(14 * 60)
    assert client.get("/claims/").status_code == 200
    assert client.session["last_activity"] == clock.now
    clock.advance(14 * 60)
    assert client.get("/claims/").status_code == 200


def test_a_session_ends_12_hours_after_sign_in_however_active(
        client_for: Any, alice: Any, clock: MovedClock, settings: Any) -> None:
    assert settings.SESSION_ABSOLUTE_LIFETIME == 12 * 3600
    client = client_for(alice)
    client.get("/claims/")
    for _ in range(71):  # a full page every 10 minutes, up to 11 h 50 min
        clock.advance(600)
        assert client.get("/claims/").status_code == 200
    clock.advance(600 + 1)
    page = client.get("/claims/")
    assert page.status_code == 302 and page["Location"].startswith(LOGIN)
    assert "at most 12 hours" in client.get(page["Location"]).content.decode()


def test_stay_signed_in_restarts_the_idle_clock_and_asking_the_time_left_does_not(
        client_for: Any, alice: Any, clock: MovedClock) -> None:
    client = client_for(alice)
    client.get("/claims/")
    clock.advance(13 * 60)
    asked = client.get("/accounts/session/", **POLL)
    assert asked.json() == {"idle_seconds": 2 * 60}
    stayed = client.post("/accounts/session/")
    assert stayed.json() == {"idle_seconds": 15 * 60}
    clock.advance(10 * 60)  # 23 minutes after the last page, 10 after "stay"
    assert client.get("/claims/").status_code == 200


def test_every_answer_tells_the_page_the_idle_seconds_left(
        client_for: Any, alice: Any, clock: MovedClock) -> None:
    client = client_for(alice)
    page = client.get("/claims/")
    assert page["X-Idle-Seconds"] == "900"
    assert 'data-idle-seconds="900"' in page.content.decode()
    clock.advance(100)
    assert client.get("/claims/", **POLL)["X-Idle-Seconds"] == "800"
