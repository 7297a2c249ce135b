"""Money reads the same everywhere: currency where known, thousands, two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from claims.models import ClaimStatusResult
from payer.models import PayerClaim
from revcycle.templatetags.money import format_money
from smartlink.models import SmartInvoice, SmartSession
from tests.followup.conftest import make_ticket


def test_dollars_have_a_symbol_thousands_and_two_decimals() -> None:
    assert format_money(Decimal("1250"), "USD") == "$1,250.00"
    assert format_money("1234567.5", "usd") == "$1,234,567.50"


def test_other_currencies_read_as_their_code() -> None:
    assert format_money(Decimal("13000"), "KES") == "KES 13,000.00"


def test_an_unknown_currency_still_gets_thousands_and_two_decimals() -> None:
    assert format_money(Decimal("-0.5")) == "-0.50"
    assert format_money(Decimal("9999.999")) == "10,000.00"


def test_no_amount_is_blank_not_none() -> None:
    assert format_money(None, "USD") == ""
    assert format_money("", "USD") == ""


def test_the_claim_page_shows_billed_and_paid_in_one_format(client_for: Any, alice: Any,
                                                            integrex: Any) -> None:
    ticket = make_ticket(integrex, outcome="paid")
    ClaimStatusResult.objects.create(ticket=ticket, charge_amount=Decimal("1250"),
                                     payment_amount=Decimal("1000.5"))
    text = client_for(alice).get(f"/claims/status/{ticket.pk}/").content.decode()
    assert "$1,250.00" in text and "$1,000.50" in text


@pytest.fixture
def dollars_and_shillings(st_marys: Any, integrex: Any, smart: Any, payer: Any,
                          encounter: Any, alice: Any) -> dict[str, Any]:
    """A denied US claim of $1,250 and a cancelled Smart invoice of KES 13,000 on one
    worklist, and a payer claim of $2,500."""
    denied = make_ticket(integrex, outcome="denied", amount="1250", encounter=encounter)
    session = SmartSession.objects.create(
        connection=smart, facility=st_marys, session_id="62863", patient_number="23025764",
        status=SmartSession.Status.ACTIVE, opened_at=timezone.now(),
        expires_at=timezone.now() + timezone.timedelta(hours=22), visit_number="V1")
    smart_ticket = make_ticket(smart, kind="smart_invoice_status", outcome="cancelled",
                               amount="13000", encounter=encounter)
    invoice = SmartInvoice.objects.create(
        connection=smart, facility=st_marys, session=session, invoice_number="INV1",
        visit_number="V1", patient_number="23025764", benefit_id="93181",
        total_amount=Decimal("13000"), status="cancelled", ticket=smart_ticket,
        lines=[{"code": "C1", "description": "Consultation", "quantity": 1,
                "unitPrice": "13000", "amount": "13000"}])
    claim = PayerClaim.objects.create(
        reference="REF-1", facility=st_marys, connection=payer, account_number="ACC1001",
        patient_name="JANE DOE", diagnosis_code="J20.9", amount=Decimal("2500"),
        status="approved", expected_payment=Decimal("2000"), ticket=make_ticket(
            payer, kind="payer_claim", outcome="approved", amount="2500"))
    return {"denied": denied, "invoice": invoice, "session": session, "claim": claim}


def test_the_worklist_shows_each_amount_in_its_currency_and_totals_per_currency(
        client_for: Any, alice: Any, dollars_and_shillings: dict[str, Any]) -> None:
    text = client_for(alice).get("/followup/").content.decode()
    assert '<td class="num money">$1,250.00</td>' in text
    assert '<td class="num money">KES 13,000.00</td>' in text
    assert "KES 13,000.00 and $1,250.00 in total" in text  # never 14,250 of nothing


def test_smart_pages_show_shillings(client_for: Any, alice: Any,
                                    dollars_and_shillings: dict[str, Any]) -> None:
    client = client_for(alice)
    invoice = client.get(f"/smart/invoices/{dollars_and_shillings['invoice'].pk}/")
    assert "KES 13,000.00" in invoice.content.decode()
    assert '<td class="num money">KES 13,000.00</td>' in invoice.content.decode()  # a line
    desk = client.get("/smart/").content.decode()
    assert '<td class="num money">KES 13,000.00</td>' in desk
    visit = client.get(f"/smart/sessions/{dollars_and_shillings['session'].pk}/")
    assert '<td class="num money">KES 13,000.00</td>' in visit.content.decode()


def test_payer_pages_show_dollars(client_for: Any, alice: Any,
                                  dollars_and_shillings: dict[str, Any]) -> None:
    client = client_for(alice)
    listing = client.get("/claims/payer/").content.decode()
    assert '<td class="num money">$2,500.00</td>' in listing
    assert '<dd id="total-billed" class="money">$2,500.00</dd>' in listing
    detail = client.get(f"/claims/payer/{dollars_and_shillings['claim'].pk}/").content.decode()
    assert "$2,000.00" in detail and "$2,500.00" in detail


def test_the_dashboard_tables_show_amounts_with_thousands(
        client_for: Any, alice: Any, dollars_and_shillings: dict[str, Any]) -> None:
    text = client_for(alice).get("/followup/dashboard/").content.decode()
    assert '<td class="num money">$1,250.00</td>' in text
    assert '<td class="num money">KES 13,000.00</td>' in text


def test_the_account_timeline_shows_amounts_in_their_currency(
        client_for: Any, alice: Any, dollars_and_shillings: dict[str, Any],
        encounter: Any) -> None:
    text = client_for(alice).get(f"/followup/accounts/{encounter.pk}/").content.decode()
    assert '<td class="num money">$1,250.00</td>' in text
    assert '<td class="num money">KES 13,000.00</td>' in text


def test_the_worklist_export_says_each_amounts_currency(
        client_for: Any, alice: Any, dollars_and_shillings: dict[str, Any]) -> None:
    import csv
    import io

    response = client_for(alice).get("/followup/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {(r["amount"], r["currency"]) for r in rows} >= {("1250.00", "USD"),
                                                           ("13000.00", "KES")}
