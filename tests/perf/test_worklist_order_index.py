"""The worklists' default order (newest first, then id) is read from an index, not sorted:
with a million tickets a sort of every one of the kind's rows cost the claim-status
worklist's rows fragment hundreds of milliseconds on each poll (issue 18, `make bench`).

The plan is the effect to assert: SQLite names the index it walks, and a "TEMP B-TREE FOR
ORDER BY" step when it sorts instead. A user in two facilities is the case that needs the
index: ticket_worklist (kind, facility, created_at) holds one facility's rows in order, and
`facility IN (a, b)` interleaves two of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory

from claims import status_views
from revcycle.models import Ticket

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite",
                                reason="asserts SQLite's query plan")


@pytest.fixture
def two_facility_biller(alice: Any, lakeside: Any, integrex: Any, st_marys: Any) -> Any:
    lakeside.members.add(alice)
    integrex.facilities.add(lakeside)
    for facility in (st_marys, lakeside):
        Ticket.objects.bulk_create(
            Ticket(kind="claim_status", facility=facility, connection=integrex,
                   request={"n": i}, account_number=f"A{i}") for i in range(30))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as after the bench's seeding
    return alice


def test_claim_status_worklist_reads_its_default_order_from_an_index(two_facility_biller):
    request = RequestFactory().get("/claims/")
    request.user = two_facility_biller
    rows = status_views.filter_tickets(request).qs.select_related("claim_result", "batch")
    plan = rows[:50].explain()
    assert "ticket_kind_recent" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    assert len(list(rows[:50])) == 50


def test_payer_claims_list_reads_its_default_order_from_an_index(
        two_facility_biller, payer, lakeside):
    from decimal import Decimal

    from payer.models import PayerClaim

    PayerClaim.objects.bulk_create(
        PayerClaim(reference=f"RC-{i}", facility=lakeside, connection=payer,
                   patient_name="P", diagnosis_code="J45.909", amount=Decimal("1"))
        for i in range(30))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rows = PayerClaim.objects.for_user(two_facility_biller).select_related("connection")
    plan = rows[:50].explain()
    assert "payer_claim_recent" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    assert len(list(rows[:50])) == 30
