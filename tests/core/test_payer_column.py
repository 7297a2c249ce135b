"""The Payer column names a payer: not the connection a claim went through ("HCMS payer
sandbox"), not the region a discovery searched ("CA")."""

from __future__ import annotations

from typing import Any

from eligibility import flow as discovery
from revcycle.models import Ticket
from tests.payer.helpers import queue


def _payer_cells(html: str) -> list[str]:
    """The worklist's Payer cells (the fourth column after the checkbox, account, patient)."""
    import re

    rows = re.findall(r'<tr id="ticket-\d+">(.*?)</tr>', html, flags=re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[3].strip() for row in rows]


def test_a_payer_claim_shows_the_payer_not_the_connection(client_for: Any, alice: Any,
                                                         payer: Any, encounter: Any) -> None:
    payer.name = "HCMS payer sandbox"
    payer.save(update_fields=["name"])
    claim = queue(payer, encounter, alice)
    Ticket.objects.filter(pk=claim.ticket_id).update(state="done", outcome="error")

    text = client_for(alice).get("/followup/").content.decode()
    assert _payer_cells(text) == ["HCMS"]


def test_a_discovery_shows_no_region_as_its_payer(client_for: Any, alice: Any, st_marys: Any,
                                                  integrex: Any) -> None:
    ticket = discovery.queue_lookup(
        facility=st_marys, connection=integrex, user=alice,
        body={"patientFirstName": "JOHN", "patientLastName": "ROE", "payerId": "CA",
              "internalAccountNumber1": "ACC2002"})
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome="none_found")

    text = client_for(alice).get("/followup/").content.decode()
    assert _payer_cells(text) == [""]
    listing = client_for(alice).get("/eligibility/").content.decode()
    assert "<td>CA</td>" not in listing
