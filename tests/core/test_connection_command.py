"""`manage.py connection`: scripted setup with secrets from standard input only."""

from __future__ import annotations

import argparse
import io
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.core.management import CommandError, call_command
from django.db import connection as db

from revcycle.management.commands.connection import Command
from revcycle.models import AuditEvent, Connection


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    call_command("connection", *args, stdin=io.StringIO(stdin), stdout=out)
    return out.getvalue()


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def test_add_creates_a_connection_with_secrets_from_stdin_encrypted(st_marys: Any) -> None:
    output = run("add", "integrex", "Integrex prod", "--base-url", "https://integrex.test/api/v2",
                 "--client-id", "Client1", "--facility", st_marys.npi, "--poll-interval", "20",
                 "--rate-limit", "2.5", "--max-concurrency", "4",
                 "--secret-fields", "client_secret", stdin="client_secret=from-stdin=with=equals\n")
    assert "Created Integrex prod" in output
    conn = Connection.objects.get(name="Integrex prod")
    assert conn.client_secret == "from-stdin=with=equals"
    assert (conn.client_id, conn.environment, conn.poll_interval_seconds) == ("Client1", "T", 20)
    assert (conn.rate_limit_per_second, conn.max_concurrency) == (Decimal("2.5"), 4)
    assert list(conn.facilities.all()) == [st_marys]
    with db.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM revcycle_connection WHERE id = %s", [conn.pk])
        raw = cursor.fetchone()[0]
    assert "from-stdin" not in raw and raw.startswith("fernet:")
    assert AuditEvent.objects.filter(object_id=str(conn.pk), action="create").count() == 1


def test_the_parser_has_no_option_that_takes_a_secret() -> None:
    options = _options(Command().create_parser("manage.py", "connection"))
    assert "--base-url" in options  # the walk reached the subcommands
    for secret in ("--client-secret", "--password", "--api-key", "--webhook-secret", "--secret"):
        assert secret not in options
    with pytest.raises(CommandError):
        call_command("connection", "add", "integrex", "X", "--base-url", "https://x.test",
                     "--client-secret", "in-argv")


def test_update_keeps_the_fields_it_was_not_given(integrex: Any, st_marys: Any) -> None:
    run("add", "integrex", integrex.name, "--poll-interval", "45")
    conn = Connection.objects.get(pk=integrex.pk)
    assert conn.poll_interval_seconds == 45
    assert (conn.base_url, conn.client_id, conn.client_secret) == (
        "https://integrex.test/api/v2", "TestClient", "s3cret-client")
    assert list(conn.facilities.all()) == [st_marys]
    event = AuditEvent.objects.get(object_id=str(integrex.pk), action="change")
    assert "poll_interval_seconds" in event.detail and "client_id" not in event.detail


def test_update_replaces_only_the_named_secrets(payer: Any) -> None:
    run("add", "payer", payer.name, "--secret-fields", "api_key,webhook_secret",
        stdin="api_key=new-key\nwebhook_secret=new-whsec\n")
    conn = Connection.objects.get(pk=payer.pk)
    assert (conn.api_key, conn.webhook_secret) == ("new-key", "new-whsec")
    event = AuditEvent.objects.get(object_id=str(payer.pk))
    assert "secrets replaced: api_key, webhook_secret" in event.detail
    assert "new-key" not in event.detail


def test_a_named_secret_missing_from_stdin_is_an_error(integrex: Any) -> None:
    with pytest.raises(CommandError, match="no value given for client_secret"):
        run("add", "integrex", integrex.name, "--secret-fields", "client_secret", stdin="")
    assert Connection.objects.get(pk=integrex.pk).client_secret == "s3cret-client"


def test_an_unexpected_stdin_line_is_refused_without_echoing_it(integrex: Any) -> None:
    with pytest.raises(CommandError) as caught:
        run("add", "integrex", integrex.name, "--secret-fields", "client_secret",
            stdin="password=leaked-value\n")
    assert "leaked-value" not in str(caught.value)


def test_moving_to_production_needs_confirmation_and_is_audited(integrex: Any) -> None:
    with pytest.raises(CommandError, match="--confirm-production"):
        run("add", "integrex", integrex.name, "--env", "P")
    assert Connection.objects.get(pk=integrex.pk).environment == "T"
    run("add", "integrex", integrex.name, "--env", "P", "--confirm-production")
    assert Connection.objects.get(pk=integrex.pk).environment == "P"
    event = AuditEvent.objects.get(object_id=str(integrex.pk), action="change")
    assert "environment T -> P" in event.detail
    run("add", "integrex", integrex.name, "--env", "P", "--poll-interval", "30")  # already P


def test_creating_without_a_base_url_or_with_a_bad_one_is_an_error(db: Any) -> None:
    with pytest.raises(CommandError, match="--base-url"):
        run("add", "smart", "Smart prod")
    with pytest.raises(CommandError, match="base_url"):
        run("add", "smart", "Smart prod", "--base-url", "not a url")
    assert not Connection.objects.exists()


def test_an_unknown_facility_is_an_error(integrex: Any) -> None:
    with pytest.raises(CommandError, match="no facility"):
        run("add", "integrex", integrex.name, "--facility", "9999999999")


def test_list_shows_connections_but_no_secrets(integrex: Any, payer: Any) -> None:
    output = run("list")
    assert integrex.name in output and payer.name in output
    for secret in ("s3cret-client", "payer-key", "whsec-test"):
        assert secret not in output


def test_test_runs_the_health_check_and_a_token_request(integrex: Any) -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://integrex.test/api/v2/health", json={"status": "up"})
        mock.post("https://integrex.test/api/v2/auth",
                  json={"access_token": "t", "expires_in": 3600})
        output = run("test", integrex.name)
    assert "a token was issued" in output
    assert Connection.objects.get(pk=integrex.pk).last_health_ok is True


def test_a_failing_test_is_an_error(integrex: Any) -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://integrex.test/api/v2/health", status=500)
        with pytest.raises(CommandError, match="500"):
            run("test", integrex.name)


def test_changed_credentials_drop_the_stored_token(smart: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from revcycle.models import OAuthToken

    OAuthToken.objects.create(connection=smart, access_token="old", refresh_token="old-refresh",
                              expires_at=timezone.now() + timedelta(hours=1))
    run("add", "smart", smart.name, "--secret-fields", "password", stdin="password=new\n")
    token = OAuthToken.objects.get(connection=smart)
    assert (token.access_token, token.refresh_token) == ("", "")


def test_a_secret_piped_without_secret_fields_is_refused_and_nothing_is_created(db: Any) -> None:
    with pytest.raises(CommandError, match="--secret-fields client_secret") as caught:
        run("add", "integrex", "Integrex", "--base-url", "https://integrex.test/api/v2",
            "--client-id", "C1", "--env", "T", stdin="client_secret=piped-but-not-asked\n")
    assert "piped-but-not-asked" not in str(caught.value)
    assert not Connection.objects.exists()


def test_a_secret_piped_without_secret_fields_leaves_an_update_undone(integrex: Any) -> None:
    with pytest.raises(CommandError, match="--secret-fields"):
        run("add", "integrex", integrex.name, "--poll-interval", "45",
            stdin="client_secret=new-one\n")
    conn = Connection.objects.get(pk=integrex.pk)
    assert (conn.client_secret, conn.poll_interval_seconds) == ("s3cret-client", 15)


@pytest.mark.parametrize("kind,needs", [
    ("integrex", "client_secret"), ("smart", "client_secret, password"), ("payer", "api_key"),
])
def test_a_connection_that_needs_a_secret_is_not_created_without_it(
        db: Any, kind: str, needs: str) -> None:
    with pytest.raises(CommandError, match=f"needs {needs}"):
        run("add", kind, "New", "--base-url", "https://service.test/api", "--client-id", "C1")
    assert not Connection.objects.exists()


def test_a_smart_connection_with_both_secrets_is_created(db: Any) -> None:
    run("add", "smart", "Smart", "--base-url", "https://smart.test/api", "--client-id", "C1",
        "--username", "hmis", "--secret-fields", "client_secret,password",
        stdin="client_secret=cs\npassword=pw\n")
    conn = Connection.objects.get(name="Smart")
    assert (conn.client_secret, conn.password) == ("cs", "pw")


def test_clear_hold_resumes_a_connection_and_is_audited(integrex: Any) -> None:
    integrex.flag("Integrex refused our credentials (402)")
    assert "resumed" in run("clear-hold", integrex.name)
    assert Connection.objects.get(pk=integrex.pk).flagged_at is None
    assert AuditEvent.objects.filter(object_id=str(integrex.pk),
                                     detail__contains="clear-hold").exists()
