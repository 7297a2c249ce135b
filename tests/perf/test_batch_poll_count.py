"""A batch page's poll counts the batch's open tickets from the (batch, state) index alone.

At a million tickets the poll's median was 60 ms on PostgreSQL against a goal of 20 (`make
bench`, issue 18): COUNT(id) needs each row's id, so PostgreSQL visits the rows, and for the
open states it chose the engine's partial due index (`ticket_open_due`, whose condition the
query repeats) and read all 20,000 open tickets of the table to keep the batch's 2,000.
COUNT(*) lets the (batch, state) index answer by itself: 0.4 ms, an index-only scan.

The plan needs a vacuumed million-row table, so the test asserts what decides it: the
statement counts rows, not ids; and the counts are right."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revcycle.batches import open_progress
from revcycle.models import Batch, Ticket

pytestmark = pytest.mark.django_db


def _batch(alice: Any, integrex: Any, st_marys: Any, states: list[str]) -> Batch:
    batch = Batch.objects.create(kind="claim_status", facility=st_marys,
                                 connection=integrex, created_by=alice)
    Ticket.objects.bulk_create(
        Ticket(kind="claim_status", facility=st_marys, connection=integrex, batch=batch,
               request={"n": i}, state=state) for i, state in enumerate(states))
    return batch


def test_a_batch_poll_counts_its_open_tickets_without_reading_their_ids(
        alice: Any, integrex: Any, st_marys: Any) -> None:
    batch = _batch(alice, integrex, st_marys,
                   ["queued", "submitted", "submitted", "processing", "done", "failed"])
    _batch(alice, integrex, st_marys, ["submitted", "queued"])  # another batch's open ones

    with CaptureQueriesContext(connection) as ctx:
        counts = open_progress(batch)

    assert counts == tuple({"queued": 1, "submitted": 2, "processing": 1}[state]
                           for state in Ticket.OPEN_STATES)
    (query,) = [q["sql"] for q in ctx.captured_queries]
    assert "COUNT(*)" in query, query


def test_a_batch_progress_counts_every_state_of_its_own_tickets(
        alice: Any, integrex: Any, st_marys: Any) -> None:
    batch = _batch(alice, integrex, st_marys, ["done", "done", "failed", "queued"])
    _batch(alice, integrex, st_marys, ["done"])

    counts = Ticket.objects.filter(batch=batch).counts()

    assert (counts["done"], counts["failed"], counts["queued"], counts["total"]) == (2, 1, 1, 4)
