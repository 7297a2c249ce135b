"""Defect 15: a username is locked after 5 failures from any mix of addresses, and the
client's address comes from X-Forwarded-For only when BEHIND_PROXY says a proxy is there
(for the lockout and the audit log alike)."""

from __future__ import annotations

from axes.models import AccessAttempt

from revcycle.models import AuditEvent
from tests.conftest import PASSWORD


def _login(client, password: str, **meta):
    return client.post("/accounts/login/", {"username": "alice", "password": password}, **meta)


def test_five_failures_from_five_addresses_lock_the_username(client, alice):
    for n in range(5):
        _login(client, "wrong-password", REMOTE_ADDR=f"203.0.113.{n + 1}")
    response = _login(client, PASSWORD, REMOTE_ADDR="198.51.100.77")
    assert response.status_code == 429
    assert not AuditEvent.objects.filter(action="login").exists()


def test_four_failures_do_not_lock(client, alice):
    for n in range(4):
        _login(client, "wrong-password", REMOTE_ADDR=f"203.0.113.{n + 1}")
    assert _login(client, PASSWORD, REMOTE_ADDR="198.51.100.77").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_used(client, alice, settings):
    settings.BEHIND_PROXY = True
    _login(client, "wrong-password", REMOTE_ADDR="10.0.0.2",
           HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.50")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.50"
    assert AuditEvent.objects.get(action="login_failed").ip_address == "203.0.113.50"


def test_without_a_proxy_a_forged_header_is_ignored(client, alice, settings):
    settings.BEHIND_PROXY = False
    _login(client, "wrong-password", REMOTE_ADDR="10.0.0.2",
           HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert AccessAttempt.objects.get().ip_address == "10.0.0.2"
    assert AuditEvent.objects.get(action="login_failed").ip_address == "10.0.0.2"


def test_two_trusted_proxies_skip_two_hops(client, alice, settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXY_COUNT = 2
    _login(client, "wrong-password", REMOTE_ADDR="10.0.0.2",
           HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9, 10.0.0.1")
    assert AuditEvent.objects.get(action="login_failed").ip_address == "198.51.100.9"
