"""Money reads the same everywhere: currency where known, thousands, two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from claims.models import ClaimStatusResult
from revcycle.templatetags.money import format_money
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
