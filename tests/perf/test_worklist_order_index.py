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
from claims.filters import SORTS
from revcycle.models import Ticket
from revcycle.paging import KeysetPaginator

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


def _deep(rows: Any, order: tuple[str, ...], per_page: int = 50) -> tuple[Any, str]:
    """(paginator, the "next" cursor of the row that ends the first page)."""
    paginator = KeysetPaginator(rows, order, per_page)
    row = rows.order_by(*order)[per_page - 1]
    return paginator, paginator.cursor_of(row, per_page)


def _seeks_in_order(plan: str, index: str) -> None:
    """The page is read from `index` starting at the cursor (a range, not a scan from the
    top as an OFFSET would), with no sort step."""
    assert index in plan, plan
    searched = plan.split(index, 1)[1].split("\n", 1)[0]  # (kind=? AND created_at<?)
    assert "created_at<?" in searched.replace(" ", "") or "created_at>?" in searched.replace(
        " ", ""), plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_a_keyset_page_of_the_claim_worklist_seeks_into_its_index(two_facility_biller):
    request = RequestFactory().get("/claims/")
    request.user = two_facility_biller
    rows = status_views.filter_tickets(request).qs
    paginator, cursor = _deep(rows, SORTS["newest"])
    plan = paginator.query(after=cursor).explain()
    _seeks_in_order(plan, "ticket_kind_recent")
    back = paginator.query(before=cursor).explain()
    _seeks_in_order(back, "ticket_kind_recent")


def test_a_keyset_page_of_a_batch_seeks_by_id(two_facility_biller, integrex, st_marys):
    from revcycle.batch_views import ROWS_ORDER
    from revcycle.models import Batch

    batch = Batch.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                 created_by=two_facility_biller, filename="k.csv")
    Ticket.objects.filter(facility=st_marys).update(batch=batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    paginator, cursor = _deep(batch.tickets.all(), ROWS_ORDER, 10)
    plan = paginator.query(after=cursor).explain()
    assert "rowid>?" in plan.replace(" ", "") or "id>?" in plan.replace(" ", ""), plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_a_keyset_page_of_the_followup_worklist_seeks_into_its_index(two_facility_biller):
    from followup import worklist
    from followup.filters import WorklistFilter

    rows = WorklistFilter({}, worklist.needing_person(two_facility_biller)).qs
    Ticket.objects.update(state="done", outcome="denied", age_date="2026-01-01")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    paginator, cursor = _deep(rows, worklist.SORTS[worklist.DEFAULT_SORT], 10)
    plan = paginator.query(after=cursor).explain()
    assert "ticket_age_date_id (age_date>?)" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
