"""The connection admin: write-only secrets and an audited, confirmed switch to P."""

from __future__ import annotations

from typing import Any

from revcycle.models import AuditEvent, Connection


def _url(conn: Connection) -> str:
    return f"/admin/revcycle/connection/{conn.pk}/change/"


def _form(conn: Connection, **changes: Any) -> dict[str, Any]:
    """The change form as a browser posts it: secrets blank unless typed."""
    data = {
        "kind": conn.kind, "name": conn.name, "environment": conn.environment,
        "base_url": conn.base_url, "token_path": conn.token_path,
        "health_check_path": conn.health_check_path, "client_id": conn.client_id,
        "client_secret": "", "username": conn.username, "password": "", "api_key": "",
        "provider_id": conn.provider_id, "webhook_secret": "",
        "poll_interval_seconds": conn.poll_interval_seconds,
        "rate_limit_per_second": conn.rate_limit_per_second,
        "max_concurrency": conn.max_concurrency, "active": "on",
        "facilities": [f.pk for f in conn.facilities.all()], "_save": "Save",
    }
    data.update(changes)
    return data


def test_the_change_form_never_renders_a_stored_secret(client_for: Any, ada: Any,
                                                       integrex: Any, payer: Any) -> None:
    client = client_for(ada)
    integrex_html = client.get(_url(integrex)).content.decode()
    payer_html = client.get(_url(payer)).content.decode()
    assert "Set — leave blank to keep it." in integrex_html
    assert "s3cret-client" not in integrex_html
    assert "payer-key" not in payer_html and "whsec-test" not in payer_html


def test_leaving_a_secret_blank_keeps_it(client_for: Any, ada: Any, integrex: Any) -> None:
    response = client_for(ada).post(_url(integrex), _form(integrex, client_id="NewClient"))
    assert response.status_code == 302
    stored = Connection.objects.get(pk=integrex.pk)
    assert stored.client_id == "NewClient"
    assert stored.client_secret == "s3cret-client"
    event = AuditEvent.objects.get(object_id=str(integrex.pk), action="change")
    assert "client_id" in event.detail
    assert "secrets replaced" not in event.detail


def test_typing_a_secret_replaces_it_and_the_audit_names_only_the_field(
        client_for: Any, ada: Any, integrex: Any) -> None:
    client_for(ada).post(_url(integrex), _form(integrex, client_secret="rotated-secret"))
    assert Connection.objects.get(pk=integrex.pk).client_secret == "rotated-secret"
    event = AuditEvent.objects.get(object_id=str(integrex.pk), action="change")
    assert "secrets replaced: client_secret" in event.detail
    assert "rotated-secret" not in event.detail


def _confirm_url(conn: Connection) -> str:
    return f"/admin/revcycle/connection/{conn.pk}/production/"


def test_switching_to_production_asks_for_confirmation_first(client_for: Any, ada: Any,
                                                             integrex: Any) -> None:
    response = client_for(ada).post(_url(integrex), _form(integrex, environment="P"))
    assert response.status_code == 302 and response["Location"] == _confirm_url(integrex)
    assert Connection.objects.get(pk=integrex.pk).environment == "T"
    page = client_for(ada).get(_confirm_url(integrex)).content.decode()
    assert "to production (P)?" in page
    # The admin's own frame: its title and header, as on every admin page.
    assert "<title>Switch to production? | revcycle admin</title>" in page
    assert "revcycle administration" in page
    assert not AuditEvent.objects.filter(object_id=str(integrex.pk),
                                         detail__contains="-> P").exists()


def test_a_confirmed_switch_saves_and_is_audited(client_for: Any, ada: Any,
                                                 integrex: Any) -> None:
    client = client_for(ada)
    client.post(_url(integrex), _form(integrex, environment="P"))
    response = client.post(_confirm_url(integrex), {"confirm_production": "yes"})
    assert response.status_code == 302
    assert Connection.objects.get(pk=integrex.pk).environment == "P"
    event = AuditEvent.objects.get(object_id=str(integrex.pk), detail__contains="-> P")
    assert "environment T -> P" in event.detail
    assert event.username == "ada"


def test_a_secret_typed_with_the_switch_is_saved_in_t_and_never_sent_back(
        client_for: Any, ada: Any, integrex: Any) -> None:
    """Production credentials usually come with the switch: they are saved at once (in T),
    and the confirmation page carries only the connection's id, never the secret."""
    client = client_for(ada)
    form = _form(integrex, environment="P", client_secret="production-secret")
    response = client.post(_url(integrex), form, follow=True)
    html = response.content.decode()
    assert "to production (P)?" in html
    assert "production-secret" not in html
    assert 'type="hidden" name="client_secret"' not in html
    stored = Connection.objects.get(pk=integrex.pk)
    assert (stored.client_secret, stored.environment) == ("production-secret", "T")
    client.post(_confirm_url(integrex), {"confirm_production": "yes"})
    assert Connection.objects.get(pk=integrex.pk).environment == "P"


def test_save_as_new_of_a_production_connection_needs_the_confirmation(
        client_for: Any, ada: Any, integrex: Any) -> None:
    Connection.objects.filter(pk=integrex.pk).update(environment="P")
    integrex.refresh_from_db()
    form = _form(integrex, name="Integrex copy", client_secret="copy-secret", _saveasnew="1")
    form.pop("_save")
    response = client_for(ada).post(_url(integrex), form)
    copy = Connection.objects.get(name="Integrex copy")
    assert copy.environment == "T"
    assert response["Location"] == _confirm_url(copy)
    assert not Connection.objects.filter(environment="P").exclude(pk=integrex.pk).exists()


def test_adding_a_production_connection_needs_the_confirmation(client_for: Any,
                                                               ada: Any, integrex: Any) -> None:
    form = _form(integrex, name="New P", environment="P", client_secret="new-secret")
    response = client_for(ada).post("/admin/revcycle/connection/add/", form, follow=True)
    assert "to production (P)?" in response.content.decode()
    assert "new-secret" not in response.content.decode()
    assert Connection.objects.get(name="New P").environment == "T"


def test_a_biller_cannot_reach_the_change_form(client_for: Any, alice: Any,
                                               integrex: Any) -> None:
    client = client_for(alice)
    assert client.get(_url(integrex)).status_code == 302
    response = client.post(_url(integrex), _form(integrex, environment="P",
                                                  confirm_production="yes"))
    assert response.status_code == 302  # not staff: the admin's login page, nothing saved
    assert response["Location"].startswith("/admin/login/")
    assert Connection.objects.get(pk=integrex.pk).environment == "T"
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    response = client.post(_url(integrex), _form(integrex, environment="P",
                                                  confirm_production="yes"))
    assert response.status_code == 403
    assert Connection.objects.get(pk=integrex.pk).environment == "T"


def _store_token(conn: Connection) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from revcycle.models import OAuthToken

    OAuthToken.objects.create(connection=conn, access_token="old", refresh_token="old-refresh",
                              expires_at=timezone.now() + timedelta(hours=1))


def test_changed_credentials_drop_the_stored_token(client_for: Any, ada: Any,
                                                   smart: Connection) -> None:
    _store_token(smart)
    client_for(ada).post(_url(smart), _form(smart, password="new-password"))
    token = smart.token
    token.refresh_from_db()
    assert (token.access_token, token.refresh_token) == ("", "")


def test_other_changes_keep_the_stored_token(client_for: Any, ada: Any,
                                             smart: Connection) -> None:
    _store_token(smart)
    client_for(ada).post(_url(smart), _form(smart, poll_interval_seconds=30))
    token = smart.token
    token.refresh_from_db()
    assert token.access_token == "old"
