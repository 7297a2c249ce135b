"""The claim's candidates are read in due order from the partial index of open tickets
(ticket_open_due), so a claim reads the few rows it leases (and the leased ones it passes
over). From ticket_due (state, next_poll_at) the database could not get them in that
order: it read and sorted every due ticket at each claim, the whole batch while it is
being sent (docs/performance.md, "Scale")."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from revcycle import leasing
from revcycle.models import Ticket

from .test_busy_lease_index import _plan


def test_the_claim_reads_open_tickets_in_due_order_from_their_index(integrex, st_marys):
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(kind="claim_status", facility=st_marys, connection=integrex, request={"n": i},
               state=("queued", "submitted", "done")[i % 3],
               next_poll_at=now - timedelta(seconds=i)) for i in range(300))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    plan = _plan(*leasing.candidates_sql(now, 8))

    if connection.vendor == "postgresql":
        assert "ticket_open_due" in plan, plan
        assert "Sort" not in plan, plan  # read in index order
    # (SQLite's planner keeps ticket_due and a sort for a table this small; one engine
    # process claims there, and its batch meets its goal.)
    found = [t for t, _, _ in leasing.candidates(now, 8)]
    assert [t.next_poll_at for t in found] == sorted(t.next_poll_at for t in found)
    assert len(found) == 8 and all(t.state != "done" for t in found)
    # The oldest due first: 299 seconds ago is the earliest (i = 299 is done: 298).
    assert found[0].next_poll_at == now - timedelta(seconds=298)
