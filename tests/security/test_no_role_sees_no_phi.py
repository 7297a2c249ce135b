"""Defect 6: a facility member without a role sees no PHI anywhere; every page with PHI
needs a permission. The same pages, for a biller, show the patient (so the check can fail)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revcycle.models import Ticket

PATIENT = b"DOE"


def _pages(encounter, ticket, active_session) -> list[str]:
    return [
        "/",
        "/encounters/", f"/encounters/{encounter.pk}/",
        "/claims/", f"/claims/status/{ticket.pk}/",
        "/eligibility/",
        "/followup/", f"/followup/accounts/{encounter.pk}/", "/followup/dashboard/",
        "/smart/", f"/smart/sessions/{active_session.pk}/",
        reverse("payer:list"),
    ]


@pytest.mark.parametrize("index", range(12))
def test_a_member_without_a_role_sees_no_patient_on_any_page(client_for, nora, alice,
                                                             encounter, ticket,
                                                             active_session, index):
    url = _pages(encounter, ticket, active_session)[index]
    active_session.member.last_name = "DOE"
    active_session.member.save()
    response = client_for(nora).get(url)
    assert response.status_code in (200, 403), url
    assert PATIENT not in response.content, url


def test_the_home_page_shows_recent_patients_to_a_biller_only(client_for, nora, alice, ticket):
    # The home page lists the person's own work: alice sent this lookup.
    Ticket.objects.filter(pk=ticket.pk).update(created_by=alice)
    assert PATIENT in client_for(alice).get("/").content
    response = client_for(nora).get("/")
    assert response.status_code == 200
    assert PATIENT not in response.content and b"no role yet" in response.content

