"""On PostgreSQL a step's save and its hand-over are one statement (a data-modifying WITH):
one round trip and one plan where there were two, and one transaction, so the next ticket
is leased exactly when this one's lease is given back. SQLite runs them one after the
other (tests/core/test_engine_hand_over.py holds what both must do)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revcycle import engine, prepared
from revcycle.models import Ticket

MakeTicket = Callable[..., Ticket]
OWNER = "owner-a"
RELAXED = "set_config('synchronous_commit', 'off', true)"
pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="data-modifying WITH is PostgreSQL's")


def _claim(ticket: Ticket) -> Ticket:
    [claimed] = [t for t in engine.claim_tickets(OWNER, 1, count_attempts=True)
                 if t.pk == ticket.pk]
    return claimed


def _step_statements(claimed: Ticket) -> tuple[Ticket | None, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        following = engine.run_step(claimed, OWNER, engine.HandOver())
    return following, [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db(transaction=True)  # outside a transaction, as the engine's threads run
def test_a_post_steps_save_and_hand_over_are_one_statement(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    echo_kind.idempotent = True
    echo_kind.submit = lambda t: engine.Submitted(f"R-{t.pk}", 200)
    first = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=2))
    second = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))

    following, statements = _step_statements(_claim(first))

    [sql] = statements
    assert sql.startswith("WITH saved AS (UPDATE")
    assert following is not None and following.pk == second.pk
    assert (following.lease_owner, following.chained) == (OWNER, 1)  # type: ignore[attr-defined]
    first.refresh_from_db()
    assert (first.state, first.remote_id, first.lease_owner) == (
        Ticket.State.SUBMITTED, f"R-{first.pk}", "")
    second.refresh_from_db()
    assert second.lease_owner == OWNER and second.lease_until is not None
    # A queued idempotent query handed a place counts its attempt in the lease.
    assert second.attempts == 1 and following.attempt_counted  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_done_steps_save_hand_over_and_results_are_one_transaction(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    stored: list[int] = []
    echo_kind.poll = lambda t: engine.Done("paid", {"n": t.pk}, 200,
                                           store=lambda: stored.append(t.pk))
    first = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                        next_poll_at=timezone.now() - timedelta(seconds=2))
    second = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))

    following, statements = _step_statements(_claim(first))

    assert [sql.split()[0] for sql in statements] == ["BEGIN", "WITH", "COMMIT"]
    assert following is not None and following.pk == second.pk
    assert stored == [first.pk]
    first.refresh_from_db()
    assert (first.state, first.outcome, first.lease_owner) == (Ticket.State.DONE, "paid", "")


@pytest.mark.django_db(transaction=True)
def test_no_ticket_is_handed_on_when_the_save_finds_its_lease_lost(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    first, second = make_ticket(), make_ticket()
    claimed = _claim(first)
    Ticket.objects.filter(pk=first.pk).update(lease_owner="owner-b")

    following, statements = _step_statements(claimed)

    assert following is None
    # The attempt counted before sending (a durable kind), then the one statement: nothing
    # to give back, the pick never ran.
    assert [sql.split()[0] for sql in statements] == ["UPDATE", "WITH"]
    second.refresh_from_db()
    assert (second.lease_owner, second.lease_until) == ("", None)
    first.refresh_from_db()
    assert (first.state, first.lease_owner) == (Ticket.State.QUEUED, "owner-b")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("idempotent", [True, False])
def test_the_statement_relaxes_its_commit_only_for_an_idempotent_querys_save(
        make_ticket: MakeTicket, echo_kind: engine.Kind, idempotent: bool) -> None:
    """The next ticket's lease would be safe to lose, but the statement is one transaction:
    a durable kind's new state must wait for the disk."""
    echo_kind.idempotent = idempotent
    echo_kind.submit = lambda t: engine.Submitted(f"R-{t.pk}", 200)
    first, second = make_ticket(), make_ticket()

    following, statements = _step_statements(_claim(first))

    [sql] = [sql for sql in statements if sql.startswith("WITH")]
    assert following is not None and following.pk == second.pk
    assert sql.count(RELAXED) == (1 if idempotent else 0)


def _claim_rows(ticket: Ticket) -> Any:
    from claims.models import ClaimStatusResult, ServiceLine

    return prepared.Rows(
        ClaimStatusResult(ticket=ticket, patient_last_name="Otieno", category_code="F1",
                          payment_amount=Decimal("80.00"), charge_amount=None,
                          response_date=date(2026, 12, 1), is_eft=True),
        [ServiceLine(position=n, procedure_code=f"9921{n}", units=Decimal(n) if n else None,
                     payment_amount=Decimal("40.00")) for n in range(2)],
        link="result")


@pytest.mark.django_db(transaction=True)
def test_a_done_steps_rows_to_insert_ride_on_its_one_statement(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    """No BEGIN, no COMMIT, no INSERT of their own: the result and its lines go in with
    the save and the hand-over, their values read as their columns' types."""
    from claims.models import ClaimStatusResult

    echo_kind.poll = lambda t: engine.Done("paid", {"n": t.pk}, 200, store=_claim_rows(t))
    first = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                        next_poll_at=timezone.now() - timedelta(seconds=2))
    second = make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))

    following, statements = _step_statements(_claim(first))

    assert [sql.split()[0] for sql in statements] == ["WITH"]
    assert following is not None and following.pk == second.pk
    result = ClaimStatusResult.objects.get(ticket=first)
    assert (result.patient_last_name, result.category_code, result.payment_amount,
            result.charge_amount, result.response_date, result.is_eft) == (
        "Otieno", "F1", Decimal("80.00"), None, date(2026, 12, 1), True)
    assert list(result.lines.order_by("position").values_list(
        "position", "procedure_code", "units", "payment_amount")) == [
        (0, "99210", None, Decimal("40.00")), (1, "99211", Decimal("1"), Decimal("40.00"))]
    first.refresh_from_db()
    assert (first.state, first.outcome, first.response) == (
        Ticket.State.DONE, "paid", {"n": first.pk})


@pytest.mark.django_db(transaction=True)
def test_rows_are_not_inserted_when_the_save_finds_its_lease_lost(
        make_ticket: MakeTicket, echo_kind: engine.Kind) -> None:
    from claims.models import ClaimStatusResult, ServiceLine

    echo_kind.poll = lambda t: engine.Done("paid", {"n": t.pk}, 200, store=_claim_rows(t))
    first = make_ticket(state=Ticket.State.SUBMITTED, remote_id="R-1",
                        next_poll_at=timezone.now() - timedelta(seconds=1))
    make_ticket()
    claimed = _claim(first)
    Ticket.objects.filter(pk=first.pk).update(lease_owner="owner-b")

    assert engine.run_step(claimed, OWNER, engine.HandOver()) is None
    assert not ClaimStatusResult.objects.exists() and not ServiceLine.objects.exists()
    first.refresh_from_db()
    assert (first.state, first.lease_owner) == (Ticket.State.SUBMITTED, "owner-b")
