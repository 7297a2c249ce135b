"""The crafted parameters the security review sent, one example each (issue 14, #11): each
answered 500 before; now a 400, a 404 or an ignored value with a message, and nothing
changes. tests/props/test_every_url_fuzz.py searches every route for more."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from followup.models import Note
from revcycle.inputs import parse_id, parse_ids
from revcycle.models import Ticket
from smartlink.models import SmartFacility, SmartSession


@pytest.fixture(autouse=True)
def no_kick() -> Any:
    with mock.patch("revcycle.engine.kick"):
        yield


@pytest.mark.parametrize("raw,expected", [
    ("12", 12), (" 7 ", 7), ("²", None), ("١٢", None), ("-1", None), ("0", None),
    (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("9" * 5000, None), ("1e3", None),
    (None, None), ("", None),
])
def test_an_id_is_ascii_digits_within_64_bits(raw: Any, expected: int | None) -> None:
    assert parse_id(raw) == expected


def test_a_selection_keeps_only_the_valid_ids() -> None:
    assert parse_ids(["3", "²", str(2**64), "x", "5"]) == [3, 5]


def test_check_again_with_a_superscript_id_is_ignored(client_for: Any, alice: Any,
                                                      st_marys: Any) -> None:
    response = client_for(alice).post("/claims/status/check-again/", {"ids": ["²", "1"]})

    assert response.status_code == 302


def test_a_worklist_action_on_crafted_ids_selects_nothing(client_for: Any, alice: Any,
                                                          st_marys: Any) -> None:
    response = client_for(alice).post("/followup/actions/", {
        "ticket": ["²", str(2**64)], "action": "assign", "assignee": "²"}, follow=True)

    assert response.status_code == 200
    assert "Select at least one row first." in response.content.decode()


def test_a_note_with_a_crafted_next_and_ticket_goes_back_to_the_account(
        client_for: Any, alice: Any, encounter: Any) -> None:
    response = client_for(alice).post(f"/followup/accounts/{encounter.pk}/notes/", {
        "text": "called the payer", "ticket": "²", "next": str(2**63 - 1)})

    assert response.status_code == 302
    assert response["Location"] == f"/followup/accounts/{encounter.pk}/"
    assert Note.objects.get().ticket is None


def test_a_nul_in_a_search_is_a_400(client_for: Any, alice: Any, st_marys: Any) -> None:
    client = client_for(alice)
    for url in ("/claims/?q=DOE%00", "/eligibility/new/?account=ACC%00", "/encounters/?q=%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"NUL character" in response.content


def test_a_nul_in_a_posted_field_is_a_400_and_queues_nothing(client_for: Any, alice: Any,
                                                             st_marys: Any,
                                                             integrex: Any) -> None:
    response = client_for(alice).post("/claims/status/new/", {"patientLastName": "DOE\x00"})

    assert response.status_code == 400 and Ticket.objects.count() == 0


def test_a_path_id_past_64_bits_is_a_404(client_for: Any, alice: Any, st_marys: Any) -> None:
    client = client_for(alice)
    for url in (f"/claims/status/{2**64}/", f"/encounters/{2**63}/",
                f"/followup/dashboard/{2**70}.csv"):
        assert client.get(url).status_code == 404, url


@pytest.fixture
def bare_session(smart: Any, st_marys: Any) -> SmartSession:
    """An active session whose member data never arrived."""
    SmartFacility.objects.filter(facility=st_marys).update(manages_copay=True)
    now = timezone.now()
    return SmartSession.objects.create(
        connection=smart, facility=st_marys, session_id="62863", patient_number="23025764",
        status=SmartSession.Status.ACTIVE, opened_at=now - timedelta(hours=2),
        expires_at=now + timedelta(hours=22))


@pytest.mark.parametrize("benefit", ["1", "abc", "²", str(2**64)])
def test_a_copay_request_without_member_data_asks_for_a_benefit(
        client_for: Any, alice: Any, bare_session: SmartSession, benefit: str) -> None:
    response = client_for(alice).get(f"/smart/sessions/{bare_session.pk}/copay/",
                                     {"benefit": benefit})

    assert response.status_code == 200
    assert "Choose a benefit first." in response.content.decode()
