"""Dates read one way on every page (2026-10-01, 2026-10-01 14:05), every date box is a
date picker, and phone numbers are written as the reader dials them."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from claims.models import ClaimStatusResult
from revcycle.templatetags.phones import format_phone
from tests.followup.conftest import make_ticket


@pytest.mark.parametrize(("raw", "shown"), [
    ("5551234567", "(555) 123-4567"),
    ("555-123-4567", "(555) 123-4567"),
    ("1 (555) 123 4567", "(555) 123-4567"),
    ("0712345678", "0712 345 678"),
    ("+254712345678", "+254 712 345 678"),
    ("254 712 345 678", "+254 712 345 678"),
    ("555-1234 ext 12", "555-1234 ext 12"),  # an extension stays as it came
    ("12345", "12345"),
    ("", ""),
])
def test_phone_numbers_are_written_as_they_are_dialled(raw: str, shown: str) -> None:
    assert format_phone(raw) == shown


def test_the_claim_page_shows_the_payers_phone_and_iso_dates(client_for: Any, alice: Any,
                                                              integrex: Any) -> None:
    ticket = make_ticket(integrex, outcome="paid")
    ClaimStatusResult.objects.create(ticket=ticket, charge_amount=Decimal("10"),
                                     payer_contact_phone="8005551234")
    text = client_for(alice).get(f"/claims/status/{ticket.pk}/").content.decode()
    assert "<dd>(800) 555-1234</dd>" in text


def test_an_account_shows_its_dates_in_one_format(client_for: Any, alice: Any,
                                                  encounter: Any) -> None:
    text = client_for(alice).get(f"/encounters/{encounter.pk}/").content.decode()
    assert "<dt>Date of birth</dt><dd>1970-01-02</dd>" in text
    assert "2026-10-01" in text and "Oct. 1, 2026" not in text


def test_the_accounts_list_writes_dates_like_every_table(client_for: Any, alice: Any,
                                                         encounter: Any) -> None:
    text = client_for(alice).get("/encounters/").content.decode()
    assert "<td>2026-10-01</td>" in text


@pytest.mark.parametrize("url", ["/claims/status/new/", "/eligibility/new/",
                                 "/claims/payer/new/"])
def test_every_date_box_is_a_date_picker(client_for: Any, alice: Any, integrex: Any,
                                         payer: Any, url: str) -> None:
    text = client_for(alice).get(url).content.decode()
    date_fields = re.findall(r'<input[^>]*name="\w*(?:[Dd]ob|[Dd]ate\w*|Dos)"[^>]*>', text)
    assert date_fields, url
    assert [f for f in date_fields if 'type="date"' not in f] == []


def test_a_date_picker_shows_the_date_it_was_filled_with(client_for: Any, alice: Any,
                                                         integrex: Any, encounter: Any) -> None:
    text = client_for(alice).get("/claims/status/new/?account=ACC1001").content.decode()
    assert re.search(r'<input type="date" name="patientDob" value="1970-01-02"', text)
