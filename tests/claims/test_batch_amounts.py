"""Batch rows carry the amount and date of service like single lookups (issue 16): the
worklist's total is the sum of its rows, whichever way the lookups were made."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from claims.export import SPEC
from claims.forms import ClaimStatusForm
from revcycle.batches import create_batch, create_single
from revcycle.models import Ticket

pytestmark = pytest.mark.django_db

CSV = ("Account Number,Patient First Name,Patient Last Name,Patient DOB,Member ID,DOS,"
       "Payer ID,NPI,Total Charges\n"
       "ACC1,JANE,DOE,1970-01-02,M1,2026-10-01,BCBS,1083052872,\"1,250.00\"\n"
       "ACC2,JOHN,DOE,1970-01-02,M2,2026-09-15,CIGNA,1083052872,99.50\n")


def _money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def test_batch_rows_carry_amount_and_date_of_service(st_marys, integrex, alice):
    batch = create_batch(SPEC, facility=st_marys, connection=integrex, user=alice,
                         filename="b.csv", text=CSV)
    got = {t.account_number: (t.amount, str(t.service_date)) for t in batch.tickets.all()}
    assert got == {"ACC1": (Decimal("1250.00"), "2026-10-01"),
                   "ACC2": (Decimal("99.50"), "2026-09-15")}


def test_the_worklist_total_is_the_sum_of_its_rows_for_single_and_batch_lookups(
        st_marys, integrex, alice, client_for):
    create_batch(SPEC, facility=st_marys, connection=integrex, user=alice, filename="b.csv",
                 text=CSV)
    form = ClaimStatusForm(data={
        "patientFirstName": "ANN", "patientLastName": "LEE", "patientDob": "1980-05-05",
        "subscriberId": "M3", "admitDate": "2026-08-01", "totalCharges": "10.25",
        "payerId": "AETNA", "billingProviderNpi": "1083052872", "trackingId1": "ACC3"})
    assert form.is_valid(), form.errors
    create_single(SPEC, facility=st_marys, connection=integrex, user=alice,
                  cleaned=form.cleaned_data)
    Ticket.objects.update(state="done", outcome="denied")
    body = client_for(alice).get(reverse("followup:worklist")).content.decode()
    total = _money(re.search(r"· \$([\d,.]+) in total", body).group(1))
    rows = re.findall(r'<td class="num money">\$([\d,]+\.\d\d)</td>', body)
    assert len(rows) == 3
    assert total == sum(_money(r) for r in rows) == Decimal("1359.75")
