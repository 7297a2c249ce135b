"""A sandbox-only process (sandbox.wsgi, sandbox.server_settings: the bench serves its
stand-in so) answers the machine endpoints exactly as the app's whole stack does: status,
body and every header, for answers that succeed and answers that refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from sandbox import server_settings
from sandbox.credentials import integrex_client

from .conftest import INTEGREX, PAYER, basic

pytestmark = pytest.mark.django_db
# Both stacks echo a request id that is safe to log, so their headers can be compared whole.
RID = {"X-Request-ID": "test-request-0001"}


def lean() -> Any:
    return override_settings(MIDDLEWARE=server_settings.MIDDLEWARE,
                             ROOT_URLCONF=server_settings.ROOT_URLCONF)


def both(send: Callable[[Client], Any]) -> tuple[Any, Any]:
    full = send(Client())
    with lean():
        alone = send(Client())
    return full, alone


def assert_same(full: Any, alone: Any, *, body: bool = True) -> None:
    assert alone.status_code == full.status_code
    assert dict(alone.headers) == dict(full.headers)
    if body:
        assert alone.content == full.content


def token(client: Client) -> str:
    response = client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client())})
    return str(response.json()["access_token"])


CLAIM = {"patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "1970-01-02",
         "subscriberId": "M00000001", "billingProviderNpi": "1083052872", "payerId": "AETNA",
         "admitDate": "2026-10-01", "trackingId1": "SV000001"}


def test_the_lean_stack_keeps_fewer_middleware_in_the_apps_order() -> None:
    kept = server_settings.MIDDLEWARE
    assert len(kept) < len(settings.MIDDLEWARE)
    assert kept == [m for m in settings.MIDDLEWARE if m in kept]


def test_the_token_endpoint_answers_alike() -> None:
    def send(client: Client) -> Any:
        return client.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                           headers={"Authorization": basic(*integrex_client()), **RID})

    full, alone = both(send)
    assert_same(full, alone, body=False)  # a new token each time
    assert set(alone.json()) == set(full.json())
    refused = both(lambda c: c.post(f"{INTEGREX}/auth", {"grant_type": "client_credentials"},
                                    headers={"Authorization": basic("x", "y"), **RID}))
    assert_same(*refused)


def test_claim_info_answers_alike_posted_pending_ready_and_refused() -> None:
    bearer = {"Authorization": f"Bearer {token(Client())}", "env": "T", **RID}

    def post(client: Client, body: Any, **extra: str) -> Any:
        return client.post(f"{INTEGREX}/claim-info", json.dumps(body),
                           content_type="application/json", headers={**bearer, **extra})

    full, alone = both(lambda c: post(c, CLAIM))
    assert_same(full, alone, body=False)  # each POST creates its own id
    assert set(alone.json()) == set(full.json()) == {"id"}
    pending = full.json()["id"]
    ready = post(Client(), CLAIM, **{"X-Sandbox-Ready-After": "0"}).json()["id"]
    for remote_id, status in ((pending, 202), (ready, 200)):
        full, alone = both(lambda c, i=remote_id: c.get(f"{INTEGREX}/claim-info", {"id": i},
                                                        headers=bearer))
        assert full.status_code == status
        assert_same(full, alone)
    for send in (lambda c: post(c, {"patientFirstName": "JANE"}),  # 400: fields missing
                 lambda c: post(c, CLAIM, env="P"),  # 402: production refused
                 lambda c: post(c, CLAIM, Authorization="Bearer nope"),  # 401
                 lambda c: c.get(f"{INTEGREX}/claim-info", {"id": "not-an-id"}, headers=bearer),
                 lambda c: c.put(f"{INTEGREX}/claim-info", headers=bearer),  # 405
                 lambda c: c.get(f"{INTEGREX}/claim-info", {"id": "a\x00b"}, headers=bearer),
                 lambda c: c.get(f"{INTEGREX}/health", headers=RID),
                 lambda c: c.get(f"{INTEGREX}/health", headers={"X-Sandbox-Error-Rate": "1",
                                                                **RID})):
        assert_same(*both(send))


def test_the_control_endpoints_and_the_payer_answer_alike() -> None:
    for send in (lambda c: c.get("/sandbox/knobs", headers=RID),
                 lambda c: c.post(f"{PAYER}/claims/", "{}", content_type="application/json",
                                  headers=RID)):
        assert_same(*both(send))
    # A path that is not there: 404 from both; the app's page links to the app's pages,
    # which the sandbox alone does not serve, so its 404 is plain text.
    full, alone = both(lambda c: c.get("/sandbox/no-such-endpoint", headers=RID))
    assert full.status_code == alone.status_code == 404
    assert alone.content == b"Not Found"


def test_the_desk_page_is_not_served_alone() -> None:
    with lean():
        assert Client().get("/sandbox/smart/desk/").status_code == 404


def test_the_wsgi_module_serves_the_sandbox_alone_whatever_the_environment_says() -> None:
    # A child of manage.py (the bench's gunicorn) inherits revcycle.settings.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "revcycle.settings", "DEBUG": "1",
           "SANDBOX_ENABLED": "1"}
    code = ("import sandbox.wsgi; from django.conf import settings; "
            "print(settings.ROOT_URLCONF, len(settings.MIDDLEWARE))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=Path(settings.BASE_DIR), check=True, timeout=120).stdout.split()
    assert out == ["sandbox.server_urls", str(len(server_settings.MIDDLEWARE))]


def test_the_pool_lends_connections_without_a_check_of_its_own() -> None:
    # The pool's check is an extra round trip on every request of the stand-in; the app's
    # own settings keep it (importing the sandbox's settings changed nothing there).
    assert server_settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is False
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
