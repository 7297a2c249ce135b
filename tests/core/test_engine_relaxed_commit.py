"""An idempotent query's state change commits without waiting for the disk (losing it in a
database crash only means asking again) in one statement: on PostgreSQL the UPDATE sets
synchronous_commit for its own transaction, where BEGIN, SET LOCAL, the UPDATE and COMMIT
were four round trips. Other kinds keep a durable commit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revcycle import engine, leasing
from revcycle.models import Ticket

MakeTicket = Callable[..., Ticket]
RELAXED = "set_config('synchronous_commit', 'off', true)"
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="synchronous_commit is PostgreSQL's")


@pytest.mark.django_db(transaction=True)  # outside a transaction, as the engine's threads run
def test_an_idempotent_querys_new_state_is_one_statement(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.idempotent = True
    echo_kind.submit = lambda t: engine.Submitted("R-9", 200)
    ticket = make_ticket()
    [claimed] = engine.claim_tickets("owner-a", 1, count_attempts=True)
    with CaptureQueriesContext(connection) as ctx:
        engine.run_step(claimed, "owner-a")
    [sql] = [q["sql"] for q in ctx.captured_queries]  # no SET LOCAL before it
    assert sql.startswith("UPDATE")
    assert (RELAXED in sql) == (connection.vendor == "postgresql")
    saved = Ticket.objects.get(pk=ticket.pk)
    assert (saved.state, saved.remote_id, saved.lease_owner) == (
        Ticket.State.SUBMITTED, "R-9", "")


@pytest.mark.django_db(transaction=True)
def test_other_kinds_keep_a_durable_commit(make_ticket: MakeTicket,
                                           echo_kind: engine.Kind) -> None:
    echo_kind.submit = lambda t: engine.Submitted("R-10", 200)
    make_ticket()
    [claimed] = engine.claim_tickets("owner-a", 1, count_attempts=True)
    with CaptureQueriesContext(connection) as ctx:
        engine.run_step(claimed, "owner-a")
    assert not [q for q in ctx.captured_queries if "synchronous_commit" in q["sql"]]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_relaxed_update_changes_the_setting_for_its_own_transaction_only(
        make_ticket: MakeTicket) -> None:
    ticket = make_ticket()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")
        try:
            cursor.execute(f"UPDATE revcycle_ticket SET polls = polls{leasing.RELAXED_COMMIT} "
                           "WHERE id = %s RETURNING current_setting('synchronous_commit')",
                           [ticket.pk])
            assert cursor.fetchone() == ("off",)
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
        finally:
            cursor.execute("RESET synchronous_commit")


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_an_idempotent_querys_done_step_relaxes_its_commit_in_its_update(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    """No SET LOCAL of its own: the Done transaction's UPDATE sets synchronous_commit for
    the rest of the transaction (set_config(..., true)), one round trip fewer."""
    echo_kind.idempotent = True
    echo_kind.submit = lambda t: engine.Done("paid", {"n": t.pk}, 200)
    ticket = make_ticket()
    [claimed] = engine.claim_tickets("owner-a", 1, count_attempts=True)
    with CaptureQueriesContext(connection) as ctx:
        engine.run_step(claimed, "owner-a")
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert not [sql for sql in sqls if sql.startswith("SET")]
    [update] = [sql for sql in sqls if sql.startswith("UPDATE")]
    assert RELAXED in update
    assert Ticket.objects.get(pk=ticket.pk).state == Ticket.State.DONE
