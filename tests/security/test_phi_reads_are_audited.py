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
    assert event.detail == "page encounters"
    assert "DOE" not in f"{event.detail}{event.object_type}{event.object_id}"


def test_an_htmx_fragment_of_a_phi_page_leaves_a_row(client_for, alice, ticket):
    response = client_for(alice).get(f"/claims/status/{ticket.pk}/", **HTMX)
    assert response.status_code == 200
    [event] = _views(username="alice")
    assert (event.object_type, event.object_id) == ("revcycle.ticket", str(ticket.pk))
    assert event.facility_id == ticket.facility_id


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
              "batchrowerror"]
NOT_PHI = ["connection", "facility", "auditevent", "codedescription", "oauthtoken"]


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
