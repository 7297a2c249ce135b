"""Counts beside a list stop at a cap (revcycle.paging.capped_aggregate): exact below it,
"more than N" past it, with no totals then (a sum of the first N rows would be wrong). The
pager, the follow-up worklist's summary and the payer list's totals share the one helper;
the cap is lowered here (revcycle.paging.COUNT_CAP) so a few rows cross it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payer.models import PayerClaim
from revcycle import paging
from revcycle.models import Ticket
from revcycle.paging import capped_aggregate
from tests.perf.test_list_query_counts import _tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def cap(monkeypatch: Any) -> Any:
    def lower(to: int) -> None:
        monkeypatch.setattr(paging, "COUNT_CAP", to)
    return lower


def test_capped_aggregate_is_exact_up_to_the_cap(integrex):
    _tickets(integrex, "claim_status", 6)  # amounts 0..5
    counted = capped_aggregate(Ticket.objects.all(), {"total": Sum("amount")}, cap=6)
    assert (counted.count, counted.capped) == (6, False)
    assert counted.values == {"total": Decimal("15.00")}


def test_capped_aggregate_past_the_cap_gives_the_cap_and_no_totals(integrex):
    _tickets(integrex, "claim_status", 7)
    counted = capped_aggregate(Ticket.objects.all(), {"total": Sum("amount")}, cap=6)
    assert (counted.count, counted.capped) == (6, True)
    assert counted.values == {"total": None}


def test_capped_aggregate_reads_at_most_cap_plus_one_rows_in_one_statement(integrex):
    _tickets(integrex, "claim_status", 30)
    with CaptureQueriesContext(connection) as ctx:
        capped_aggregate(Ticket.objects.all(), {"total": Sum("amount")}, cap=6)
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"].upper()
    assert "LIMIT 7" in sql and "COUNT(*)" in sql and "SUM(" in sql


def test_the_worklist_pager_says_more_than_the_cap(client_for, alice, integrex, cap):
    _tickets(integrex, "claim_status", 60)
    client = client_for(alice)
    cap(55)
    assert "Rows 1–50 of more than 55" in client.get(reverse("claims:status_home")).content.decode()
    cap(100)
    assert "Rows 1–50 of 60<" in client.get(reverse("claims:status_home")).content.decode()


def test_the_followup_summary_says_more_than_the_cap_and_no_amount(
        client_for, alice, integrex, cap):
    _tickets(integrex, "claim_status", 12)  # denied, rejected, not found: all on the worklist
    client = client_for(alice)
    cap(10)
    text = client.get(reverse("followup:worklist")).content.decode()
    assert "<strong>more than 10</strong> items" in text
    assert "narrow the filters to see the total amount" in text
    cap(12)
    text = client.get(reverse("followup:worklist")).content.decode()
    assert "<strong>12</strong> items" in text and "$66.00 in total" in text


def test_the_payer_list_says_more_than_the_cap_and_hides_its_totals(
        client_for, alice, payer, st_marys, cap):
    PayerClaim.objects.bulk_create(
        PayerClaim(reference=f"RC-{i}", facility=st_marys, connection=payer,
                   patient_name="P", diagnosis_code="J45.909", amount=Decimal("10"),
                   status=PayerClaim.Status.APPROVED, expected_payment=Decimal("7"))
        for i in range(4))
    client = client_for(alice)
    cap(3)
    text = client.get(reverse("payer:list")).content.decode()
    assert "<dt>Claims</dt><dd>more than 3</dd>" in text and 'id="totals-capped"' in text
    cap(4)
    text = client.get(reverse("payer:list")).content.decode()
    assert "<dt>Claims</dt><dd>4</dd>" in text
    assert 'id="total-billed" class="money">$40.00<' in text
    assert 'id="total-expected" class="money">$28.00<' in text
