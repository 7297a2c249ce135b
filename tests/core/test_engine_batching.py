"""The engine's bookkeeping, batched (issue 18): a claim leases many tickets in a fixed
number of statements and hands them over read, so a step adds no SELECT of its own; the
pump gathers freed threads before it claims again."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revcycle import engine
from revcycle.models import Connection, Ticket

MakeTicket = Callable[..., Ticket]


def statements(ctx: CaptureQueriesContext) -> list[str]:
    """The SQL sent, without transaction bookkeeping (BEGIN, COMMIT, SAVEPOINT...)."""
    skip = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET LOCAL")
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(skip)]


def test_a_claim_of_eight_tickets_costs_the_statements_of_a_claim_of_one(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=100)
    tickets = [make_ticket() for _ in range(9)]
    with CaptureQueriesContext(connection) as one:
        first = engine.claim_tickets("owner-a", 1)
    with CaptureQueriesContext(connection) as eight:
        rest = engine.claim_tickets("owner-b", 8)
    assert len(statements(one)) == len(statements(eight)) <= 4
    # One UPDATE leased all eight.
    assert sum(s.startswith("UPDATE") for s in statements(eight)) == 1
    assert Ticket.objects.filter(lease_owner="owner-b").count() == 8
    assert {t.pk for t in first + rest} == {t.pk for t in tickets}
    # The tickets come back leased and read whole, with their connection.
    assert all(t.lease_owner == "owner-b" and t.request == {"accountNumber": "ACC1001"}
               for t in rest)


def test_a_claimed_ticket_is_sent_without_reading_it_again(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    sent: list[int] = []

    def submit(t: Ticket) -> engine.Step:
        sent.append(t.pk)
        return engine.Submitted("R-7", 200)

    echo_kind.submit = submit
    ticket = make_ticket()
    [claimed] = engine.claim_tickets("owner-a", 5)
    with CaptureQueriesContext(connection) as ctx:
        engine.run_step(claimed, "owner-a")
    # The attempt, durable before the request is sent; then the new state: no SELECT.
    sql = statements(ctx)
    assert [s.split()[0] for s in sql] == ["UPDATE", "UPDATE"]
    assert sent == [ticket.pk]
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.remote_id, saved.attempts, saved.lease_owner) == (
        Ticket.State.SUBMITTED, "R-7", 1, "")


def test_the_claim_keeps_each_connections_cap_over_a_batch_of_tickets(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=3)
    for _ in range(6):
        make_ticket()
    assert len(engine.claim_tickets("owner-a", 8)) == 3
    assert engine.claim_tickets("owner-b", 8) == []
    assert Ticket.objects.exclude(lease_owner="").count() == 3


def test_the_pump_gathers_a_quarter_of_its_threads_before_claiming_again() -> None:
    assert [engine.claim_size(n) for n in (1, 4, 16, 64)] == [1, 1, 4, 16]


@pytest.mark.django_db(transaction=True)
def test_workers_report_freed_threads_to_a_waiting_pump(make_ticket: MakeTicket,
                                                        echo_kind: engine.Kind) -> None:
    gate = threading.Event()

    def submit(t: Ticket) -> engine.Step:
        gate.wait(30)
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    tickets = [make_ticket() for _ in range(2)]
    claimed = engine.claim_tickets("owner-a", 2)
    workers = engine._Workers(2, "owner-a")
    try:
        for ticket in claimed:
            workers.submit(ticket)
        assert workers.free == 0
        gate.set()
        # Both steps end; the wait returns as soon as both threads are free.
        assert workers.wait_free(2, timeout=30) == 2
        assert workers.done == 2
    finally:
        workers.stop()
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets],
                                 state=Ticket.State.SUBMITTED).count() == 2

