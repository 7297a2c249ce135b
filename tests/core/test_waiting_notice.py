"""A lookup that waits says for how long and when the next check is due; a connection on
hold is visible to the biller who waits on it and to the admin's connection list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone

from revcycle.models import Ticket
from tests.followup.conftest import make_ticket


def _waiting_ticket(integrex: Any, kind: str = "claim_status") -> Ticket:
    ticket = make_ticket(integrex, kind=kind, state="submitted", outcome="")
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(seconds=75),
                                               next_poll_at=now + timedelta(seconds=600))
    return ticket


def test_a_waiting_claim_check_says_how_long_and_when_it_is_checked_next(
        client_for: Any, alice: Any, integrex: Any) -> None:
    ticket = _waiting_ticket(integrex)
    text = client_for(alice).get(f"/claims/status/{ticket.pk}/").content.decode()
    # Loose enough for a slow machine, tight enough to prove both figures are shown.
    assert re.search(r"Waiting 1 min \d+ s so far", text)
    assert re.search(r"next check in about (9 min \d+ s|10 min)", text)


def test_a_waiting_discovery_says_how_long_it_has_waited(client_for: Any, alice: Any,
                                                         integrex: Any) -> None:
    ticket = _waiting_ticket(integrex, kind="discovery")
    text = client_for(alice).get(f"/eligibility/lookups/{ticket.pk}/").content.decode()
    assert "so far; next check in about" in text


def test_the_biller_sees_the_connection_is_on_hold_and_who_clears_it(
        client_for: Any, alice: Any, integrex: Any) -> None:
    ticket = _waiting_ticket(integrex)
    integrex.flag("402: the payer refused our credentials")
    text = client_for(alice).get(f"/claims/status/{ticket.pk}/").content.decode()
    assert "The connection Integrex test is on hold" in text
    assert "until an admin clears the hold" in text
    assert "next check" not in text  # nothing is checked while on hold


def test_the_admin_connection_list_shows_the_hold_not_ok(client_for: Any, ada: Any,
                                                         integrex: Any) -> None:
    integrex.last_health_ok = True
    integrex.last_health_at = timezone.now()
    integrex.save()
    integrex.flag("402: the payer refused our credentials")
    text = client_for(ada).get("/admin/revcycle/connection/").content.decode()
    assert "on hold since" in text and "402: the payer refused our credentials" in text
    assert ">ok (" not in text
