"""A finalized claim with a payment is paid, for every F category that can mean paid, and
the export's paymentAmt is that payment, never the charge."""

from __future__ import annotations

import pytest

from claims.export import EXPORT_HEADER, export_rows
from claims.flow import parse_claim_info, store
from revcycle.models import Ticket
from tests.claims.helpers import paid_object

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("category", ["F0", "F1", "F3", "F3F", "F3N", "F4", "f1 "])
def test_a_finalized_claim_with_a_payment_is_paid(category):
    answer = paid_object() | {"categoryCode": category, "chargeAmt": "1250.00",
                              "paymentAmt": "412.50"}
    assert parse_claim_info(answer).outcome == "paid"


@pytest.mark.parametrize("category, outcome", [
    ("F0", "denied"), ("F3", "denied"), ("F4", "denied"), ("F1", "paid"), ("F2", "denied"),
])
def test_without_a_payment_only_f1_still_says_paid(category, outcome):
    answer = paid_object() | {"categoryCode": category, "paymentAmt": "0.00"}
    assert parse_claim_info(answer).outcome == outcome


def test_the_exports_payment_amount_is_the_payment_not_the_charge(make_ticket):
    answer = paid_object() | {"chargeAmt": "1250.00", "paymentAmt": "412.50"}
    ticket = make_ticket(state=Ticket.State.DONE, outcome="paid", response=answer)
    store(ticket, parse_claim_info(answer))

    row = dict(zip(EXPORT_HEADER, next(iter(export_rows(Ticket.objects.filter(pk=ticket.pk)))),
                   strict=True))

    assert (row["paymentAmt"], row["chargeAmt"]) == ("412.50", "1250.00")
