"""Another facility's records do not exist for you (HIPAA minimum necessary)."""

from __future__ import annotations

from typing import Any


def test_bob_gets_404_on_a_st_marys_encounter(client_for: Any, bob: Any, encounter: Any) -> None:
    assert client_for(bob).get(f"/encounters/{encounter.pk}/").status_code == 404


def test_bob_does_not_see_a_st_marys_encounter_in_the_list(client_for: Any, bob: Any,
                                                          encounter: Any) -> None:
    response = client_for(bob).get("/encounters/")
    assert response.status_code == 200
    html = response.content.decode()
    assert encounter.account_number not in html
    assert f"/encounters/{encounter.pk}/" not in html
    assert "No accounts." in client_for(bob).get("/encounters/", {"q": "DOE"}).content.decode()


def test_alice_at_st_marys_sees_it_and_her_view_is_audited(client_for: Any, alice: Any,
                                                          encounter: Any) -> None:
    client = client_for(alice)
    assert encounter.account_number in client.get("/encounters/").content.decode()
    response = client.get(f"/encounters/{encounter.pk}/")
    assert response.status_code == 200
    assert "123-45-6789" not in response.content.decode()
    assert encounter.audit_events.filter(action="view", username="alice").count() == 1
