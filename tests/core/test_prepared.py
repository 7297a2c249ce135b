"""revcycle.prepared: the engine's every-step statements prepared once per connection on
PostgreSQL, rows read back into models as a queryset would read them, models inserted as
bulk_create would insert them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims.models import ClaimStatusResult, ServiceLine
from revcycle import leasing, prepared
from revcycle.models import Ticket

MakeTicket = Callable[..., Ticket]
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="prepared statements are PostgreSQL's here")


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@on_postgresql
def test_a_hand_over_is_prepared_once_and_run_again_by_name(make_ticket: MakeTicket) -> None:
    first = make_ticket()
    first.claim_cap = 4  # type: ignore[attr-defined]
    others = [make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1)) for _ in range(2)]
    now = timezone.now()
    until = now + timedelta(seconds=60)

    taken = [leasing.take_next(first, "owner-a", now, until) for _ in range(2)]

    assert {t.pk for t in taken if t is not None} == {t.pk for t in others}
    hand_overs = [s for s in _prepared_statements() if s.startswith("UPDATE")
                  and "claim_cap" in s]
    assert len(hand_overs) == 1  # the second run used the first's plan


@on_postgresql
def test_with_prepared_statements_off_nothing_is_prepared(make_ticket: MakeTicket,
                                                          settings: object) -> None:
    settings.DATABASE_PREPARED_STATEMENTS = False  # type: ignore[attr-defined]
    first = make_ticket()
    first.claim_cap = 4  # type: ignore[attr-defined]
    make_ticket(next_poll_at=timezone.now() - timedelta(seconds=1))
    now = timezone.now()

    assert leasing.take_next(first, "owner-a", now, now + timedelta(seconds=60)) is not None
    assert not [s for s in _prepared_statements() if "claim_cap" in s]


def test_rows_are_read_into_models_as_a_queryset_reads_them(make_ticket: MakeTicket,
                                                            monkeypatch: Any) -> None:
    """The encrypted request decrypted, dates as dates (SQLite returns text), and what the
    statement added after the model's columns handed back."""
    monkeypatch.setattr(prepared, "_known_converters", {})  # found here, not by a test before
    ticket = make_ticket(request={"accountNumber": "ACC7"}, response={"paid": "12.50"})
    with prepared.cursor() as cursor:
        cursor.execute(f"SELECT {prepared.columns(Ticket)}, 41 + 1 FROM revcycle_ticket "
                       "WHERE id = %s", [ticket.pk])
        [(read, extra)] = prepared.read_models(Ticket, cursor.fetchall())

    expected = Ticket.objects.get(pk=ticket.pk)
    assert extra == (42,)
    assert (read.pk, read.request, read.response) == (
        ticket.pk, {"accountNumber": "ACC7"}, {"paid": "12.50"})
    assert read.next_poll_at == expected.next_poll_at and read.created_at == expected.created_at
    assert read.connection_id == expected.connection_id and not read._state.adding


def test_an_insert_stores_what_bulk_create_would_and_gives_each_model_its_key(
        make_ticket: MakeTicket) -> None:
    ticket = make_ticket()
    result = ClaimStatusResult(ticket=ticket, patient_last_name="Otieno",
                               payment_amount=Decimal("12.50"),
                               response_date=timezone.localdate())

    prepared.insert([result], returning_pk=True)
    lines = [ServiceLine(result=result, position=n, procedure_code=f"9921{n}")
             for n in range(3)]
    prepared.insert(lines, returning_pk=True)

    stored = ClaimStatusResult.objects.get(ticket=ticket)
    assert stored.pk == result.pk and not result._state.adding
    assert (stored.patient_last_name, stored.payment_amount, stored.response_date) == (
        "Otieno", Decimal("12.50"), timezone.localdate())
    assert [(line.pk, line.procedure_code) for line in lines] == list(
        ServiceLine.objects.filter(result=stored).order_by("position")
        .values_list("pk", "procedure_code"))


@pytest.mark.parametrize("returning_pk", [False, True])
def test_an_insert_is_one_statement_however_many_rows(make_ticket: MakeTicket,
                                                      returning_pk: bool) -> None:
    result = ClaimStatusResult(ticket=make_ticket())
    prepared.insert([result], returning_pk=True)
    lines = [ServiceLine(result=result, position=n) for n in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        prepared.insert(lines, returning_pk=returning_pk)
    [sql] = [q["sql"] for q in ctx.captured_queries]
    assert sql.startswith("INSERT") and ServiceLine.objects.filter(result=result).count() == 5
    if returning_pk:
        assert [line.pk for line in lines] == list(
            ServiceLine.objects.filter(result=result).order_by("position")
            .values_list("pk", flat=True))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="an old SQLite's limit")
def test_without_insert_returning_each_row_is_inserted_and_read_back_by_its_rowid(
        make_ticket: MakeTicket, monkeypatch: Any) -> None:
    """SQLite before 3.35 has no INSERT ... RETURNING (Django 5.2 accepts 3.31)."""
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    result = ClaimStatusResult(ticket=make_ticket())
    prepared.insert([result], returning_pk=True)
    lines = [ServiceLine(result=result, position=n, procedure_code=f"C{n}") for n in range(3)]
    with CaptureQueriesContext(connection) as ctx:
        prepared.insert(lines, returning_pk=True)
    assert len(ctx.captured_queries) == 3
    assert [(line.pk, line.procedure_code) for line in lines] == list(
        ServiceLine.objects.filter(result=result).order_by("position")
        .values_list("pk", "procedure_code"))
    assert ClaimStatusResult.objects.get(pk=result.pk).ticket_id == result.ticket_id


def test_an_insert_of_nothing_runs_nothing(db: object) -> None:
    with CaptureQueriesContext(connection) as ctx:
        prepared.insert([])
    assert ctx.captured_queries == []


def test_an_insert_keeps_a_primary_key_made_in_python(db: object) -> None:
    from sandbox.models import IntegrexTicket

    ticket = IntegrexTicket(kind=IntegrexTicket.Kind.CLAIM, request_json={"a": [1, "b"]},
                            ready_at=timezone.now())
    made = ticket.pk
    prepared.insert([ticket])
    stored = IntegrexTicket.objects.get(pk=made)
    assert (stored.request_json, stored.kind) == ({"a": [1, "b"]}, IntegrexTicket.Kind.CLAIM)


def test_rows_called_insert_the_parent_then_its_children_linked_to_it(
        make_ticket: MakeTicket) -> None:
    """The way outside the engine's one statement (SQLite; a Done step without a
    hand-over; "check again", which replaces earlier results)."""
    ticket = make_ticket()
    rows = prepared.Rows(ClaimStatusResult(ticket=ticket, patient_last_name="Wanjiru"),
                         [ServiceLine(position=n, procedure_code=f"J{n}") for n in range(2)],
                         link="result")
    rows()
    result = ClaimStatusResult.objects.get(ticket=ticket)
    assert result.patient_last_name == "Wanjiru"
    assert list(result.lines.order_by("position").values_list("procedure_code", flat=True)) == [
        "J0", "J1"]


def test_each_model_is_read_with_its_own_converters(make_ticket: MakeTicket,
                                                    monkeypatch: Any) -> None:
    """Converters are found once per model: a ticket read first must not lend its own to
    the sandbox's request read next (its JSON and dates are in other columns)."""
    from sandbox.models import IntegrexTicket

    monkeypatch.setattr(prepared, "_known_converters", {})
    ticket = make_ticket()
    request = IntegrexTicket(kind=IntegrexTicket.Kind.CLAIM, request_json={"a": 1},
                             ready_at=timezone.now())
    prepared.insert([request])
    read: list[Any] = []
    for model, pk in ((Ticket, ticket.pk), (IntegrexTicket, request.pk)):
        with prepared.cursor() as cursor:
            cursor.execute(f"SELECT {prepared.columns(model)} FROM {model._meta.db_table} "
                           "WHERE id = %s", [model._meta.pk.get_db_prep_value(pk, connection)])
            [(found, _)] = prepared.read_models(model, cursor.fetchall())
            read.append(found)
    stored = IntegrexTicket.objects.get(pk=request.pk)
    assert (read[1].request_json, read[1].created_at, read[1].ready_at) == (
        {"a": 1}, stored.created_at, stored.ready_at)
    assert read[0].request == {"accountNumber": "ACC1001"}


@on_postgresql
def test_a_long_statements_placeholders_are_converted_once(db: object) -> None:
    """psycopg converts %s to $n again for every run of a text over 4 KB or 50 parameters;
    a step's one statement is both."""
    values = list(range(60))
    sql = ("SELECT " + " + ".join(["%s::int"] * len(values))
           + " /* " + "x" * 4200 + " */")
    before = prepared._converted.cache_info()
    for _ in range(3):
        with prepared.cursor() as cursor:
            cursor.execute(sql, values)
            assert cursor.fetchone() == (sum(values),)
    after = prepared._converted.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
