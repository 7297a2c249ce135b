"""Screens speak the biller's words: labels and each domain's own advice, never the stored
names (`claim_status`, `none_found`, `smart_invoice_status`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from claims.outcomes import OUTCOME_ADVICE
from payer.models import PayerClaim
from revcycle.models import Batch, Ticket
from smartlink.models import SmartInvoice, SmartSession
from tests.followup.conftest import make_ticket

INTERNAL_NAMES = ["claim_status", "none_found", "smart_invoice_status", "payer_claim",
                  "under_review", "claim status ticket"]
GENERIC_ADVICE = OUTCOME_ADVICE["error"]  # "read the error, fix it, and check again"


@pytest.fixture
def day(st_marys: Any, integrex: Any, payer: Any, smart: Any, encounter: Any,
        alice: Any) -> dict[str, Any]:
    """One of everything a biller's day leaves behind, all sent by alice."""
    denied = make_ticket(integrex, outcome="denied", encounter=encounter)
    discovery = make_ticket(integrex, kind="discovery", outcome="none_found",
                            encounter=encounter)
    payer_ticket = make_ticket(payer, kind="payer_claim", state="done", outcome="error",
                               encounter=encounter)
    claim = PayerClaim.objects.create(
        reference="REF-1", facility=st_marys, connection=payer, account_number="ACC1001",
        patient_name="JANE DOE", diagnosis_code="J20.9", amount=Decimal("100.00"),
        status="error", ticket=payer_ticket, encounter=encounter)
    session = SmartSession.objects.create(
        connection=smart, facility=st_marys, session_id="62863", patient_number="23025764",
        status=SmartSession.Status.ACTIVE, opened_at=timezone.now(),
        expires_at=timezone.now() + timezone.timedelta(hours=22))
    smart_ticket = make_ticket(smart, kind="smart_invoice_status", outcome="cancelled",
                               encounter=encounter)
    invoice = SmartInvoice.objects.create(
        connection=smart, facility=st_marys, session=session, invoice_number="INV1",
        visit_number="V1", patient_number="23025764", benefit_id="93181",
        total_amount=Decimal("13000"), status="cancelled", ticket=smart_ticket)
    Ticket.objects.update(created_by=alice)
    batch = Batch.objects.create(kind="claim_status", facility=st_marys, connection=integrex)
    return {"denied": denied, "discovery": discovery, "claim": claim, "invoice": invoice,
            "session": session, "batch": batch, "encounter": encounter}


def _pages(day: dict[str, Any]) -> list[str]:
    return [
        "/", "/claims/", f"/claims/status/{day['denied'].pk}/",
        "/eligibility/", f"/eligibility/lookups/{day['discovery'].pk}/",
        "/claims/payer/", f"/claims/payer/{day['claim'].pk}/",
        "/smart/", f"/smart/invoices/{day['invoice'].pk}/", "/smart/not-billed/",
        "/followup/", "/followup/dashboard/", f"/followup/accounts/{day['encounter'].pk}/",
        f"/encounters/{day['encounter'].pk}/",
        f"/claims/status/batches/{day['batch'].pk}/",
    ]


def test_no_internal_name_reaches_the_main_pages(client_for: Any, maya: Any, alice: Any,
                                                 day: dict[str, Any]) -> None:
    client = client_for(maya)  # a manager opens every page a biller does, and batches
    shown = []
    for url in _pages(day):
        response = client.get(url)
        assert response.status_code == 200, url
        visible = _visible_text(response.content.decode())
        shown += [f"{name!r} on {url}" for name in INTERNAL_NAMES if name in visible]
    assert shown == []


def _visible_text(html: str) -> str:
    """The words on the screen: attributes (CSS classes, data- values) are not shown."""
    import re

    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def test_the_home_page_lists_my_own_work_each_row_a_link(client_for: Any, alice: Any,
                                                         day: dict[str, Any]) -> None:
    text = client_for(alice).get("/").content.decode()
    assert f'href="/claims/status/{day["denied"].pk}/"' in text
    assert f'href="/eligibility/lookups/{day["discovery"].pk}/"' in text
    assert f'href="/claims/payer/{day["claim"].pk}/"' in text
    assert f'href="/smart/invoices/{day["invoice"].pk}/"' in text
    assert "No coverage found" in text and "Claim status" in text


def test_someone_elses_lookups_are_not_my_recent_work(client_for: Any, alice: Any, maya: Any,
                                                      day: dict[str, Any]) -> None:
    text = client_for(maya).get("/").content.decode()
    assert "No lookups yet." in text


def test_each_kind_gets_its_own_next_action_on_the_worklist(client_for: Any, alice: Any,
                                                            day: dict[str, Any]) -> None:
    text = client_for(alice).get("/followup/?page_size=100").content.decode()
    assert "No coverage on file" in text  # discovery, none found
    assert "Smart cancelled the invoice" in text  # a cancelled Smart invoice
    assert "The payer refused the claim before reviewing it" in text  # a refused payer claim
    assert GENERIC_ADVICE not in text


def test_a_denial_on_the_worklist_links_to_its_reasons(client_for: Any, alice: Any,
                                                       day: dict[str, Any]) -> None:
    text = client_for(alice).get("/followup/").content.decode()
    assert f'href="/claims/status/{day["denied"].pk}/#reasons"' in text
