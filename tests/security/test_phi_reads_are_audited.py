"""Defect 5: every read of PHI by a person leaves one audit row: pages, their HTMX
fragments (folded to one row per page and minute), list and search pages, and the Django
admin's change, delete and list views of records about patients."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from revcycle.audit import PHI_PAGES, is_phi_model
from revcycle.models import AuditEvent

HTMX = {"HTTP_HX_REQUEST": "true"}


def _views(**filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="view", **filters))


def test_a_search_of_patients_leaves_a_row_without_the_search_words(client_for, alice,
                                                                     encounter):
    response = client_for(alice).get("/encounters/", {"q": "DOE"})
    assert b"DOE" in response.content
    [event] = _views(username="alice")
    assert (event.detail, event.object_type, event.object_id) == ("page encounters", "", "")


def test_an_htmx_fragment_of_a_phi_page_leaves_a_row(client_for, alice, ticket):
    response = client_for(alice).get(f"/claims/status/{ticket.pk}/", **HTMX)
    assert response.status_code == 200
    [event] = _views(username="alice")
    assert (event.object_type, event.object_id) == ("revcycle.ticket", str(ticket.pk))
    assert event.facility_id == ticket.facility_id
    assert event.detail == "fragment claims:status_detail"


def test_fragments_repeating_a_page_fold_into_one_row_a_minute(client_for, alice, encounter,
                                                               ticket):
    client = client_for(alice)
    for n in range(5):  # a poll of the worklist every few seconds
        client.get("/followup/", {"poll": n}, **HTMX)
    assert len(_views(username="alice")) == 1
    client.get(f"/claims/status/{ticket.pk}/", **HTMX)  # another page: its own row
    assert len(_views(username="alice")) == 2
    client.get("/followup/")  # a full page view is always recorded
    assert len(_views(username="alice")) == 3


def test_the_polls_of_a_page_that_recorded_its_own_read_fold_into_it(client_for, alice,
                                                                     encounter):
    client = client_for(alice)
    client.get(f"/followup/accounts/{encounter.pk}/")
    client.get(f"/followup/accounts/{encounter.pk}/", {"poll": 1}, **HTMX)
    assert len(_views(username="alice")) == 1


def test_a_page_that_records_its_own_read_is_not_recorded_twice(client_for, alice, encounter):
    client_for(alice).get(f"/encounters/{encounter.pk}/")
    assert len(_views(username="alice")) == 1


@pytest.mark.parametrize("view", ["change", "delete"])
def test_the_admin_change_and_delete_views_of_an_encounter_leave_a_row(client_for, ada,
                                                                       encounter, view):
    url = reverse(f"admin:revcycle_encounter_{view}", args=[encounter.pk])
    assert client_for(ada).get(url).status_code == 200
    [event] = _views(username="ada")
    assert (event.encounter_id, event.facility_id) == (encounter.pk, encounter.facility_id)
    assert event.detail == f"admin {view} view"


def test_the_admin_list_of_tickets_leaves_a_row(client_for, ada, ticket):
    assert client_for(ada).get(reverse("admin:revcycle_ticket_changelist"),
                               {"q": "DOE"}).status_code == 200
    [event] = _views(username="ada")
    assert (event.object_type, event.detail) == ("revcycle.ticket", "admin list")


def test_the_admin_change_view_of_a_ticket_leaves_a_row(client_for, ada, ticket):
    client_for(ada).get(reverse("admin:revcycle_ticket_change", args=[ticket.pk]))
    [event] = _views(username="ada")
    assert (event.object_type, event.object_id) == ("revcycle.ticket", str(ticket.pk))


def test_a_smart_session_in_the_admin_leaves_a_row_with_its_facility(client_for, ada,
                                                                     active_session):
    client_for(ada).get(reverse("admin:smartlink_smartsession_change",
                                args=[active_session.pk]))
    [event] = _views(username="ada")
    assert event.facility_id == active_session.facility_id


# Models about patients, wherever their app lives (the payer models are moving apps).
PHI_MODELS = ["encounter", "ticket", "claimstatusresult", "serviceline", "coverage",
              "smartsession", "smartmember", "smartinvoice", "payerclaim", "batch",
              "batchrowerror", "note", "invoiceevent"]
# The last four link only to records that are not about patients (a connection, a user).
NOT_PHI = ["connection", "facility", "auditevent", "codedescription", "oauthtoken",
           "ratewindow", "webhooksettings", "savedview", "notificationpreference"]


@pytest.mark.parametrize("name", PHI_MODELS + NOT_PHI)
def test_admin_pages_of_models_about_patients_are_audited(name):
    [model] = [m for m in apps.get_models()
               if m._meta.model_name == name and m._meta.app_label != "sandbox"]
    assert is_phi_model(model) is (name in PHI_MODELS)


def test_every_admin_registered_model_with_a_facility_or_encounter_is_audited():
    for model in admin.site._registry:
        names = {f.name for f in model._meta.concrete_fields}
        if {"facility", "encounter"} & names and model._meta.model_name != "auditevent":
            assert is_phi_model(model), model


def test_every_registered_phi_page_names_a_real_url():
    from django.urls import NoReverseMatch

    assert len(PHI_PAGES) >= 15
    for name, page in PHI_PAGES.items():
        try:
            reverse(name, kwargs={page.pk_kwarg: 1} if page.model else None)
        except NoReverseMatch:
            reverse(name)  # a page with another argument


def test_a_loop_of_links_between_records_about_no_patient_ends_and_is_not_phi():
    """Two models that link to each other (and to nothing about a patient): the search
    stops at its depth limit instead of recursing for ever."""
    from types import SimpleNamespace

    def fake(label):
        return SimpleNamespace(_meta=SimpleNamespace(label_lower=label, app_label="x",
                                                     concrete_fields=[]))

    a, b = fake("x.a"), fake("x.b")
    a._meta.concrete_fields = [SimpleNamespace(many_to_one=True, one_to_one=False,
                                               related_model=b)]
    b._meta.concrete_fields = [SimpleNamespace(many_to_one=False, one_to_one=True,
                                               related_model=a)]
    assert is_phi_model(a) is False


def _fake_model(label, *links, app_label="x"):
    """Enough of a model's `_meta` for is_phi_model: its label and its links."""
    from types import SimpleNamespace

    fields = [SimpleNamespace(many_to_one=True, one_to_one=False, related_model=link)
              for link in links]
    return SimpleNamespace(_meta=SimpleNamespace(label_lower=label, app_label=app_label,
                                                 concrete_fields=fields))


def _chain_to_a_facility(links):
    """A model `links` links away from a facility (1: it names the facility itself)."""
    model = _fake_model("revcycle.facility")
    for n in range(links):
        model = _fake_model(f"x.m{n}", model)
    return model


def test_the_search_for_a_facility_follows_five_links_and_no_more():
    """The depth limit that ends loops: a record five links from a facility is found, six
    is past it (no model is more than three links away today)."""
    assert [is_phi_model(_chain_to_a_facility(n)) for n in (1, 5, 6)] == [True, True, False]


def test_a_user_or_group_is_never_a_record_about_patients():
    linked = _fake_model("auth.user", _fake_model("revcycle.facility"), app_label="auth")
    assert is_phi_model(linked) is False


# --- record_page_read and record_admin_read called as the middleware calls them, on a clock

@pytest.fixture
def clock(monkeypatch):
    """The audit module's clock only (the fold window is judged on it)."""
    from types import SimpleNamespace

    from revcycle import audit

    now = {"t": 1_000_000.0}
    monkeypatch.setattr(audit, "time", SimpleNamespace(time=lambda: now["t"]))
    return now


@pytest.fixture
def read(rf, alice, clock):
    """Read a PHI page at a time on the clock, in one browser session."""
    from django.urls import resolve

    from revcycle.audit import record_page_read

    session: dict = {}

    def read_at(url, at, *, fragment=False, recorded=False):
        clock["t"] = 1_000_000.0 + at
        request = rf.get(url, **(HTMX if fragment else {}))
        request.user, request.session, request.resolver_match = alice, session, resolve(url)
        if recorded:  # the view wrote its own row
            request._audit_read_recorded = True
        record_page_read(request, PHI_PAGES[request.resolver_match.view_name])
        return session

    return read_at


def test_a_fragment_is_folded_for_59_seconds_and_recorded_at_60(read):
    read("/followup/", 0)
    read("/followup/", 59, fragment=True)
    assert len(_views()) == 1
    read("/followup/", 60, fragment=True)
    assert len(_views()) == 2


def test_reading_another_page_does_not_forget_the_first(read, encounter):
    read("/followup/", 0)
    read(f"/encounters/{encounter.pk}/", 10)
    read("/followup/", 20, fragment=True)
    assert [e.detail for e in AuditEvent.objects.order_by("pk")] == [
        "page followup:worklist", "page encounter_detail"]


def test_the_session_keeps_only_the_reads_of_the_last_minute(read, encounter):
    from revcycle.audit import _FOLD_KEY

    read("/followup/", 0)
    session = read(f"/encounters/{encounter.pk}/", 60)
    assert list(session[_FOLD_KEY].values()) == [1_000_060]


def test_a_fragment_the_view_recorded_itself_restarts_the_fold_window(read, encounter):
    """The account page records its own reads; its polls in between keep folding."""
    url = f"/followup/accounts/{encounter.pk}/"
    read(url, 0, recorded=True)
    read(url, 50, fragment=True, recorded=True)
    read(url, 100, fragment=True)  # 50 s after the last recorded read
    assert not _views()
    read(url, 170, fragment=True)  # 120 s after it
    assert [e.detail for e in _views()] == ["fragment followup:account"]


def test_a_read_of_a_record_that_is_not_found_names_the_id_asked_for(read):
    read("/encounters/999999/", 0)
    [event] = _views()
    assert (event.object_type, event.object_id, event.facility_id) == (
        "revcycle.encounter", "999999", None)


def _admin_read(rf, user, url):
    from django.urls import resolve

    from revcycle.audit import record_admin_read

    request = rf.get(url)
    request.user, request.session, request.resolver_match = user, {}, resolve(url)
    record_admin_read(request)


def test_admin_pages_that_are_not_about_patients_leave_no_row(rf, ada, integrex):
    """A connection's list and change page, the admin's own password page (its URL name
    ends in `_change` but names no model), and an encounter that does not exist."""
    for url in (reverse("admin:revcycle_connection_changelist"),
                reverse("admin:revcycle_connection_change", args=[integrex.pk]),
                reverse("admin:password_change"),
                reverse("admin:revcycle_encounter_change", args=[999999])):
        _admin_read(rf, ada, url)
    assert not AuditEvent.objects.exists()


def test_the_admins_password_page_opens_and_leaves_no_row(client_for, ada):
    response = client_for(ada).get(reverse("admin:password_change"))
    assert response.status_code == 200 and b"Password change" in response.content
    assert not _views()
