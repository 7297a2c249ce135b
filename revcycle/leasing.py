"""The engine's claim, as SQL written once (revcycle.engine.claim_tickets runs it).

An engine claims several times a second while a batch runs. Built by the ORM, each claim
cost about 10 ms of CPU on the bench's 2-core machine, nine tenths of it Python building
and compiling querysets and reading the connection again; the statements below are the
same ones (docs/performance.md, "CPU per unit of wall time"). Tickets are still read as
Ticket objects (a raw query: their encrypted request decrypted as usual).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection as db
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.utils import timezone

from revcycle import prepared
from revcycle.models import Connection, Ticket

_T = Ticket._meta.db_table
_C = Connection._meta.db_table


def _q(name: str) -> str:
    return db.ops.quote_name(name)


def _when(value: datetime) -> Any:
    """A datetime as the backend stores it (SQLite: naive UTC text), as the ORM sends it."""
    return db.ops.adapt_datetimefield_value(value)


def _in(values: Any) -> str:
    return ", ".join(["%s"] * len(values))


# The open states as literals, as the partial index ticket_open_due names them: a database
# uses a partial index only when it can prove the query's condition implies the index's,
# which SQLite cannot do for bound parameters.
_OPEN = ", ".join(f"'{state}'" for state in Ticket.OPEN_STATES)


def candidates(now: datetime, limit: int, *, kinds: list[str] | None = None,
               batch_id: int | None = None) -> list[tuple[Ticket, int, Any]]:
    """Due tickets no lease holds, of usable connections, soonest due first: each with its
    connection's cap and the connection's last change (for the cache below). On PostgreSQL
    the rows are locked, and rows another claimer holds are passed over."""
    with prepared.cursor() as cursor:
        cursor.execute(*candidates_sql(now, limit, kinds=kinds, batch_id=batch_id))
        rows = cursor.fetchall()
    return [(ticket, cap, changed)
            for ticket, (cap, changed) in prepared.read_models(Ticket, rows)]


def _due(now: datetime, *, kinds: list[str] | None,
         batch_id: int | None) -> tuple[list[str], list[Any]]:
    """The conditions of a due ticket `t` that no lease holds, of a connection `c` that may
    send, and of the pump's filters: a claim's candidates and a hand-over's pick."""
    where = [f"t.{_q('state')} IN ({_OPEN})",
             f"t.{_q('next_poll_at')} <= %s",
             f"(t.{_q('lease_until')} IS NULL OR t.{_q('lease_until')} < %s)",
             f"c.{_q('active')} = %s", f"c.{_q('flagged_at')} IS NULL",
             f"(c.{_q('backoff_until')} IS NULL OR c.{_q('backoff_until')} <= %s)"]
    params: list[Any] = [_when(now), _when(now), True, _when(now)]
    if kinds:
        where.append(f"t.{_q('kind')} IN ({_in(kinds)})")
        params.extend(kinds)
    if batch_id:
        where.append(f"t.{_q('batch_id')} = %s")
        params.append(batch_id)
    return where, params


def candidates_sql(now: datetime, limit: int, *, kinds: list[str] | None = None,
                   batch_id: int | None = None) -> tuple[str, list[Any]]:
    """The candidates' statement: read in next_poll_at order from ticket_open_due, it stops
    after `limit` rows (and the leased or locked ones it passes over)."""
    where, params = _due(now, kinds=kinds, batch_id=batch_id)
    sql = (f"SELECT {prepared.columns(Ticket, 't')}, c.{_q('max_concurrency')} AS claim_cap, "
           f"c.{_q('updated_at')} AS claim_changed "
           f"FROM {_q(_T)} t INNER JOIN {_q(_C)} c ON c.{_q('id')} = t.{_q('connection_id')} "
           f"WHERE {' AND '.join(where)} ORDER BY t.{_q('next_poll_at')} LIMIT %s")
    params.append(limit)
    if db.vendor == "postgresql":
        sql += " FOR UPDATE OF t SKIP LOCKED"
    return sql, params


def plain_index_scans() -> None:
    """On PostgreSQL, read the claim's indexes by plain index scans until it commits.

    Each claim reads entries of rows that steps have since changed (a lease, a state): the
    busy count's ticket_busy_lease holds one per lease taken in the last lease period,
    10,000 at 170 requests a second. A plain index scan marks the entries of dead rows
    once it has checked them and skips them from then on; a bitmap scan, which the planner
    prefers for the busy count, never marks them, so every claim visited every dead row
    again until VACUUM: 2 to 5 ms a claim (docs/performance.md, "Scale")."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL enable_bitmapscan TO off")


# An engine thread's connection plans without bitmap scans for as long as it lives: a hand-
# over (take_next) is one autocommit statement, with no transaction for SET LOCAL. With
# stale statistics (a batch just queued, autovacuum behind) the planner took its pick for
# one row and read every due ticket through a bitmap scan and a sort: 26 to 69 ms a
# hand-over at the scale bench, 8,000 rows each, instead of the first few in the index.
_engine_thread = threading.local()


def plain_index_scans_in_this_thread() -> None:
    """Mark the calling thread as an engine thread: its connection, now and after a
    reconnect, reads by plain index scans (plain_index_scans says why they matter)."""
    _engine_thread.plain = True
    if db.connection is not None:
        _session_plain_scans(db)


@receiver(connection_created)
def _on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
    if getattr(_engine_thread, "plain", False):
        _session_plain_scans(connection)


def _session_plain_scans(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET enable_bitmapscan TO off")


def lock_connections(ids: set[int]) -> None:
    """On PostgreSQL, take the connections' row locks (in id order: no deadlock) until the
    claim commits. On SQLite the write lock taken at BEGIN serialises claimers already."""
    if db.vendor != "postgresql" or not ids:
        return
    with prepared.cursor() as cursor:
        cursor.execute(f"SELECT {_q('id')} FROM {_q(_C)} WHERE {_q('id')} IN ({_in(ids)}) "
                       f"ORDER BY {_q('id')} FOR UPDATE", sorted(ids))


def busy_counts(now: datetime, ids: set[int]) -> dict[int, int]:
    """Tickets each connection has under a live lease, whoever holds it."""
    with prepared.cursor() as cursor:
        cursor.execute(*busy_count_sql(now, ids))
        return dict(cursor.fetchall())


def busy_count_sql(now: datetime, ids: set[int]) -> tuple[str, list[Any]]:
    """The busy count's statement: `lease_until > now` implies the partial index's
    `lease_until IS NOT NULL`, so both databases read it from ticket_busy_lease."""
    return (f"SELECT {_q('connection_id')}, COUNT(*) FROM {_q(_T)} "
            f"WHERE {_q('lease_until')} > %s AND {_q('connection_id')} IN ({_in(ids)}) "
            f"GROUP BY {_q('connection_id')}", [_when(now), *sorted(ids)])


def lease(ids: list[int], owner: str, until: datetime, *, attempt: list[int] | None = None) -> None:
    """Lease the tickets `ids` to `owner`; those in `attempt` count a sending attempt."""
    sets = [f"{_q('lease_owner')} = %s", f"{_q('lease_until')} = %s"]
    params: list[Any] = [owner, _when(until)]
    if attempt:
        sets.append(f"{_q('attempts')} = {_q('attempts')} + CASE WHEN {_q('id')} "
                    f"IN ({_in(attempt)}) THEN 1 ELSE 0 END")
        params.extend(attempt)
    with prepared.cursor() as cursor:
        cursor.execute(f"UPDATE {_q(_T)} SET {', '.join(sets)} "
                       f"WHERE {_q('id')} IN ({_in(ids)})", [*params, *ids])


def take_next(after: Ticket, owner: str, now: datetime, until: datetime, *,
              kinds: list[str] | None = None, batch_id: int | None = None,
              count_kinds: list[str] | None = None) -> Ticket | None:
    """Lease the next due ticket of `after`'s connection to `owner`, for the place `after`
    holds (a hand-over: revcycle.engine._hand_over); None when nothing of it is due, the
    connection is not usable, or its cap is now below the one `after` was claimed under.
    Tickets of a kind in `count_kinds` count their sending attempt if still queued."""
    with prepared.cursor() as cursor:
        cursor.execute(*take_next_sql(after, owner, now, until, kinds=kinds,
                                      batch_id=batch_id, count_kinds=count_kinds))
        rows = cursor.fetchall()
    if not rows:
        return None
    [(ticket, (cap, changed))] = prepared.read_models(Ticket, rows)
    ticket.claim_cap = cap  # type: ignore[attr-defined]
    ticket.claim_changed = changed  # type: ignore[attr-defined]
    return ticket


def take_next_sql(after: Ticket, owner: str, now: datetime, until: datetime, *,
                  kinds: list[str] | None = None, batch_id: int | None = None,
                  count_kinds: list[str] | None = None) -> tuple[str, list[Any]]:
    """One UPDATE: the candidates' conditions for one connection, soonest due first, and
    on PostgreSQL the row lock (SKIP LOCKED) as in the claim. No busy count and no lock on
    the connection: a hand-over takes the place the handing ticket still holds, so the
    connection's busy count never grows by it; only a cap lowered since that ticket's claim
    (`claim_cap`) stops it, and the pump's claims, which count, take over."""
    _, params = _due(now, kinds=kinds, batch_id=batch_id)
    params += [after.connection_id, after.claim_cap or 1, after.pk]  # type: ignore[attr-defined]
    relaxed = db.vendor == "postgresql" and not db.in_atomic_block
    sql = _take_next_text(db.vendor, len(kinds or ()), bool(batch_id), len(count_kinds or ()),
                          relaxed)
    return sql, [owner, _when(until), *(count_kinds or ()), *params]


@functools.lru_cache(maxsize=32)
def _take_next_text(vendor: str, kinds: int, batch: bool, count_kinds: int,
                    relaxed: bool, *, after_save: bool = False) -> str:
    """take_next_sql's text, built once for each shape: a hand-over runs at nearly every
    step, and building it again cost more CPU than PostgreSQL spent running it."""
    table = _q(_T)
    where, _ = _due(timezone.now(), kinds=["?"] * kinds, batch_id=1 if batch else None)
    # Never the handing ticket itself: its lease may have run out while its step ran (a
    # slow answer), leaving it due and unleased to the pick; handed to itself, it would be
    # run again from the state it was read in, and a POST sent twice.
    where += [f"t.{_q('connection_id')} = %s", f"c.{_q('max_concurrency')} >= %s",
              f"t.{_q('id')} <> %s"]
    pick = (f"SELECT t.{_q('id')} FROM {table} t INNER JOIN {_q(_C)} c "
            f"ON c.{_q('id')} = t.{_q('connection_id')} WHERE {' AND '.join(where)} "
            f"ORDER BY t.{_q('next_poll_at')} LIMIT 1")
    if vendor == "postgresql":
        pick += " FOR UPDATE OF t SKIP LOCKED"
    sets = [f"{_q('lease_owner')} = %s", f"{_q('lease_until')} = %s"]
    if count_kinds:
        sets.append(f"{_q('attempts')} = {_q('attempts')} + CASE WHEN {_q('state')} = "
                    f"'{Ticket.State.QUEUED}' AND {_q('kind')} IN ({_in(range(count_kinds))}) "
                    "THEN 1 ELSE 0 END")
    # SQLite's RETURNING names only the updated table: the connection's cap and last
    # change come by subqueries.
    of_connection = (f"FROM {_q(_C)} c WHERE c.{_q('id')} = {table}.{_q('connection_id')}")
    # After a save (update_and_take_next's `saved`), only if the save was made.
    guard = "EXISTS (SELECT 1 FROM saved) AND " if after_save else ""
    return (f"UPDATE {table} SET {', '.join(sets)}{RELAXED_COMMIT if relaxed else ''} "
            f"WHERE {guard}{table}.{_q('id')} = ({pick}) "
            f"RETURNING {prepared.columns(Ticket, table)}, "
            f"(SELECT c.{_q('max_concurrency')} {of_connection}) AS claim_cap, "
            f"(SELECT c.{_q('updated_at')} {of_connection}) AS claim_changed")


# Connections read once and kept while unchanged: reading one decrypts its secrets. A
# change saved through the model (the admin, `manage.py connection`) moves updated_at, so
# the next claim reads it again; flag() (a queryset update) sets flagged_at on the object
# it was called on, which is then read again too.
_known: dict[int, tuple[Any, Connection]] = {}


def connection(pk: int, changed: Any) -> Connection | None:
    known = _known.get(pk)
    if known and known[0] == changed and known[1].flagged_at is None:
        return known[1]
    found = Connection.objects.filter(pk=pk).first()
    if found is not None:
        _known[pk] = (changed, found)
    return found


# A step's state change, as SQL written once -----------------------------------------


@dataclass(frozen=True)
class Plus:
    """The column's own value plus n, in the UPDATE (as F("polls") + n would be)."""

    n: int


# On PostgreSQL, the UPDATE's own transaction commits without waiting for the WAL flush:
# set_config(..., true) lasts until the statement's (autocommit) transaction ends, and the
# commit reads it first. SET LOCAL needs a transaction block of its own: BEGIN, SET LOCAL,
# the UPDATE and COMMIT were four round trips for one statement.
RELAXED_COMMIT = " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"


def update_ticket(pk: int, values: dict[str, Any], *, holder: str | None = None,
                  relaxed: bool = False) -> int:
    """UPDATE one ticket's columns (only while `holder` holds its lease, when given);
    returns the rows changed. Each value is prepared as the ORM's update() prepares it
    (the encrypted answer encrypted, datetimes adapted), without building a queryset.
    `relaxed`: a change whose loss in a database crash is harmless (engine._relaxed_commit)
    commits without waiting for the disk; inside a transaction, the whole transaction
    does."""
    with prepared.cursor() as cursor:
        cursor.execute(*_update_sql(pk, values, holder=holder, relaxed=relaxed))
        return int(cursor.rowcount)


def _update_sql(pk: int, values: dict[str, Any], *, holder: str | None,
                relaxed: bool) -> tuple[str, list[Any]]:
    sets: list[str] = []
    params: list[Any] = []
    for name, value in values.items():
        field: Any = Ticket._meta.get_field(name)
        column = _q(field.column)
        if isinstance(value, Plus):
            sets.append(f"{column} = {column} + %s")
            params.append(value.n)
        else:
            sets.append(f"{column} = %s")
            params.append(field.get_db_prep_save(value, connection=db))
    where = f"{_q('id')} = %s"
    params.append(pk)
    if holder is not None:
        where += f" AND {_q('lease_owner')} = %s"
        params.append(holder)
    # Inside a transaction set_config(..., true) lasts until it ends, as SET LOCAL would,
    # without a round trip of its own.
    source = RELAXED_COMMIT if relaxed and db.vendor == "postgresql" else ""
    return f"UPDATE {_q(_T)} SET {', '.join(sets)}{source} WHERE {where}", params


# A step's save and its hand-over in one statement -------------------------------------


@dataclass(frozen=True)
class Take:
    """A hand-over's pick (take_next's arguments), to run with the step's save."""

    owner: str
    now: datetime
    until: datetime
    kinds: list[str] | None = None
    batch_id: int | None = None
    count_kinds: list[str] | None = None


def saves_and_takes_at_once() -> bool:
    """Whether a step's save and its hand-over run as one statement (update_and_take_next):
    PostgreSQL's data-modifying WITH; SQLite has none."""
    return db.vendor == "postgresql"


def update_and_take_next(ticket: Ticket, values: dict[str, Any], *, holder: str,
                         relaxed: bool, take: Take,
                         rows: prepared.Rows | None = None) -> tuple[int, Ticket | None]:
    """update_ticket and take_next in one statement (one round trip, one plan): the rows
    saved, and the ticket leased for the place `ticket` holds, if the save was made (the
    lease was still `holder`'s) and one is due.

    One statement is one transaction: the next ticket is leased exactly when this one's
    lease is given back, so the busy count neither grows nor dips (take_next says why that
    matters). The commit is relaxed only when the save may be (`relaxed`). `rows`, what
    the step stores, are inserted by the same statement, if the save was made."""
    save_sql, save_params = _update_sql(ticket.pk, values, holder=holder, relaxed=relaxed)
    _, due_params = _due(take.now, kinds=take.kinds, batch_id=take.batch_id)
    take_sql = _take_next_text(db.vendor, len(take.kinds or ()), bool(take.batch_id),
                               len(take.count_kinds or ()), False, after_save=True)
    stored, stored_params = rows.ctes("saved") if rows is not None else ("", [])
    sql = (f"WITH saved AS ({save_sql} RETURNING {_q('id')}), "
           f"{stored + ', ' if stored else ''}handed AS ({take_sql}) "
           "SELECT (SELECT COUNT(*) FROM saved), handed.* FROM (SELECT 1) AS one "
           "LEFT JOIN handed ON TRUE")
    params = [*save_params, *stored_params, take.owner, _when(take.until),
              *(take.count_kinds or ()), *due_params, ticket.connection_id, ticket.claim_cap or 1,  # type: ignore[attr-defined]
              ticket.pk]
    with prepared.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    saved, rest = int(row[0]), row[1:]
    if rest[0] is None:  # no ticket handed (LEFT JOIN): its columns are all NULL
        return saved, None
    [(following, (cap, changed))] = prepared.read_models(Ticket, [rest])
    following.claim_cap = cap  # type: ignore[attr-defined]
    following.claim_changed = changed  # type: ignore[attr-defined]
    return saved, following
