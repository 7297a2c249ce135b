"""The 403, 404 and 500 pages: inside the site's layout, saying what happened and where to go."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error


@pytest.fixture(autouse=True)
def _production_error_pages(settings: Any) -> None:
    # With DEBUG on Django shows its technical 404 page instead of templates/404.html.
    settings.DEBUG = False


def test_a_403_shows_the_reason_the_code_gave_inside_the_layout(client_for: Any,
                                                                alice: Any) -> None:
    response = client_for(alice).get("/audit/")
    assert response.status_code == 403
    text = response.content.decode()
    assert "You cannot open this page" in text
    assert ("Your role does not allow you to read the audit log: "
            "only managers and admins can.") in text
    assert "view_audit_log" not in text
    assert 'class="topbar"' in text and "Back to your home page" in text


def test_a_404_says_the_page_does_not_exist_and_links_home(client_for: Any, alice: Any) -> None:
    response = client_for(alice).get("/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "This page does not exist" in text
    assert "/no-such-page/" in text
    assert 'href="/"' in text and 'class="topbar"' in text


def test_the_500_page_renders_without_a_request_context_or_database() -> None:
    # No `db` fixture: pytest-django fails any query, so the page must need none.
    response = server_error(RequestFactory().get("/anywhere/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert "Back to the home page" in text
    assert 'class="topbar"' in text


def test_every_page_links_the_favicon_and_a_skip_link(client_for: Any, alice: Any) -> None:
    text = client_for(alice).get("/").content.decode()
    assert 'rel="icon"' in text and "favicon" in text
    assert 'href="#main"' in text and 'id="main"' in text
