from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.test import override_settings
from django.urls import clear_url_caches

import revcycle.urls


def _reload_urls() -> None:
    clear_url_caches()
    importlib.reload(revcycle.urls)


@pytest.mark.django_db
def test_the_sandbox_is_unreachable_when_disabled(client: Any) -> None:
    assert client.get("/sandbox/integrex/api/v2/health").status_code == 200
    try:
        with override_settings(SANDBOX_ENABLED=False):
            _reload_urls()
            # No route at all: the anonymous visitor meets a 404, not even a login page.
            assert client.get("/sandbox/integrex/api/v2/health").status_code == 404
            assert client.get("/sandbox/stats").status_code == 404
    finally:
        _reload_urls()
    assert client.get("/sandbox/integrex/api/v2/health").status_code == 200
