"""The claim's busy count reads the partial index of live leases (ticket_busy_lease),
not the connection's every ticket: the pump counts on every claim, several times a second,
and at 100,000 tickets the scan cost 23 to 82 ms a claim on PostgreSQL against 0.03 to
0.08 ms from the index (docs/performance.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from revcycle import leasing
from revcycle.models import Ticket


def _plan(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A test table is small enough that a scan is cheapest; forbid it to see which
            # index the planner can use for this statement.
            cursor.execute("SET LOCAL enable_seqscan TO off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def _done_tickets_with_live_leases(integrex: Any, st_marys: Any, leases: int) -> Any:
    """200 finished tickets of `integrex`, `leases` of them leased for another minute, the
    planner's statistics fresh; returns the time the leases were counted from."""
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(kind="claim_status", facility=st_marys, connection=integrex, request={"n": i},
               state="done") for i in range(200))
    leased = list(Ticket.objects.values_list("pk", flat=True)[:leases])
    Ticket.objects.filter(pk__in=leased).update(lease_until=now + timedelta(minutes=1),
                                                lease_owner="engine-a")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return now


def test_busy_count_reads_the_index_of_live_leases(integrex, st_marys):
    now = _done_tickets_with_live_leases(integrex, st_marys, 3)

    plan = _plan(*leasing.busy_count_sql(now, {integrex.pk}))

    assert "ticket_busy_lease" in plan, plan
    assert leasing.busy_counts(now, {integrex.pk}) == {integrex.pk: 3}


def test_the_claim_counts_with_a_plain_index_scan_that_marks_dead_entries(integrex, st_marys):
    # A bitmap scan never marks the index entries of dead rows, so each claim visited the
    # rows of every lease taken in the last minute again (no VACUUM in between).
    now = _done_tickets_with_live_leases(integrex, st_marys, 20)
    leasing.plain_index_scans()

    plan = _plan(*leasing.busy_count_sql(now, {integrex.pk}))

    # A plain index scan, whichever index a table this small makes cheapest (on the bench's
    # 10,000 tickets: an index-only scan of ticket_busy_lease); without the setting, a
    # bitmap scan of ticket_busy_lease.
    assert "index" in plan.lower() and "Bitmap" not in plan, plan
