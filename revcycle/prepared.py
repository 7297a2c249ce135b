"""Statements run at every engine step, prepared once per connection on PostgreSQL, and
the rows they return read back into models without a queryset.

Django's psycopg cursors bind parameters on the client: every statement reaches the
server as new text, parsed and planned again. At the scale bench the engines' statements
cost PostgreSQL 1.6 ms of CPU for each API request, on a 2-core machine that the run keeps
busy; a hand-over's UPDATE, with its join, ORDER BY and subqueries, cost about 0.5 ms of
that to plan, and as much again in Python to quote its parameters into the text and to read
its row through a RawQuerySet (docs/performance.md, "Scale in session 9").

Here the parameters go separately (server-side binding) and each statement is prepared the
first time a connection runs it. Behind a pooler in transaction mode (PgBouncer older than
1.21) a prepared statement may be missing on the next server connection: set
DATABASE_PREPARED_STATEMENTS=0 there. SQLite, and PostgreSQL with it off, use Django's
cursor as everywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import connection as db
from django.db.models import Model

M = TypeVar("M", bound=Model)

# psycopg prepares a statement asked for (prepare=True) only on a connection whose
# prepare_threshold is set; Django leaves it unset. This one never reaches the threshold
# by counting, so statements are prepared only where this module asks: Django's own
# cursors bind on the client and are never prepared anyway.
_NEVER_BY_COUNT = 1 << 30


class _Shown:
    """What Django's query log reads of a statement (cursor._query.query)."""

    def __init__(self, query: str) -> None:
        self.query = query.encode()


def _prepared_cursor_class() -> type:
    import psycopg
    from psycopg import _queries

    class ConvertedOnce(_queries.PostgresQuery):
        """A statement's %s placeholders turned into $1, $2... once per text. psycopg
        caches that only for a text under 4 KB and 50 parameters (its long ones are ORMs'
        VALUES lists of every length); a Done step's save with its hand-over and rows is
        longer, and converting it again at every step was 9% of the engine's CPU in a
        profile of the scale bench's GET phase. These statements are few and their texts
        fixed."""

        def convert(self, query: Any, vars: Any) -> None:
            if vars is None or not isinstance(query, str):
                return super().convert(query, vars)
            (self.query, self._want_formats, self._order,
             self._parts) = _converted(query, self._tx.encoding)
            self.dump(vars)
            return None

    class PreparedCursor(psycopg.Cursor):  # type: ignore[type-arg]
        """Every statement prepared (Django's cursor wrapper passes no `prepare`)."""

        _query_cls = ConvertedOnce

        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                    binary: bool | None = None) -> Any:
            result = super().execute(query, params, prepare=True, binary=binary)
            if self._query is None:
                # psycopg keeps no text for a prepared statement's run; Django's query
                # log (DEBUG, tests' captured queries) shows the statement as prepared.
                self._query = _Shown(query)  # type: ignore[assignment]
            return result

    return PreparedCursor


@functools.lru_cache(maxsize=256)
def _converted(query: str, encoding: str) -> Any:
    from psycopg import _queries

    return _queries._query2pg_nocache(query.encode(encoding), encoding)


_cursor_class: type | None = None


def cursor() -> Any:
    """A cursor whose statements are prepared on PostgreSQL; Django's cursor elsewhere.
    Wrapped as Django wraps its own (query logging, database errors, thread checks)."""
    global _cursor_class
    # The thread's connection looked up once: each attribute read through
    # django.db.connection looks it up again.
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return wrapper.cursor()
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    raw_connection = wrapper.connection
    if raw_connection.prepare_threshold is None:
        raw_connection.prepare_threshold = _NEVER_BY_COUNT
    if _cursor_class is None:
        _cursor_class = _prepared_cursor_class()
    with wrapper.wrap_database_errors:
        return wrapper._prepare_cursor(  # type: ignore[attr-defined]
            _cursor_class(raw_connection))


# Reading rows into models ---------------------------------------------------------------


def columns(model: type[Model], table: str = "") -> str:
    """The model's concrete columns, in field order, as read_models expects them."""
    prefix = f"{table}." if table else ""
    return ", ".join(f"{prefix}{db.ops.quote_name(str(f.column))}"
                     for f in model._meta.concrete_fields)


_known_converters: dict[tuple[str, type[Model]], list[tuple[int, list[Any], Any]]] = {}


def _converters(wrapper: Any, model: type[Model]) -> list[tuple[int, list[Any], Any]]:
    """Each column's converters from the database's value (an encrypted field's
    decryption, SQLite's dates from text), as a queryset applies them; found once per
    database and model (they are the fields' and the backend's, the same for every
    connection to it)."""
    key = (wrapper.alias, model)
    if key not in _known_converters:
        compiler = wrapper.ops.compiler("SQLCompiler")(model._default_manager.none().query,
                                                       wrapper, wrapper.alias)
        found = compiler.get_converters(
            [f.get_col(model._meta.db_table) for f in model._meta.concrete_fields])
        _known_converters[key] = [(i, functions, expression)
                                  for i, (functions, expression) in found.items()]
    return _known_converters[key]


def read_models(model: type[M], rows: Iterable[Sequence[Any]]) -> list[tuple[M, tuple[Any, ...]]]:
    """Models from rows that start with columns(model); each with the row's other values
    (what the statement added after the model's columns)."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    width = len(fields)
    wrapper = connections[DEFAULT_DB_ALIAS]
    converters = _converters(wrapper, model)
    found = []
    for row in rows:
        values = list(row[:width])
        for i, functions, expression in converters:
            for convert in functions:
                values[i] = convert(values[i], expression, wrapper)
        found.append((model.from_db(wrapper.alias, names, values), tuple(row[width:])))
    return found


# Inserting models ------------------------------------------------------------------------


def insert(objs: Sequence[M], *, returning_pk: bool = False) -> None:
    """INSERT the models (all of one class) in one statement, as bulk_create would:
    each field's pre_save (auto_now_add) and get_db_prep_save (encryption). With
    `returning_pk`, each object gets its new primary key; objects that have theirs
    already (a UUID made in Python) are inserted with it."""
    if not objs:
        return
    model = type(objs[0])
    wrapper = connections[DEFAULT_DB_ALIAS]
    with_pk = all(obj.pk is not None for obj in objs)
    fields = _fields(model, with_pk)
    rows = [_db_values(obj, fields, wrapper) for obj in objs]
    pk = model._meta.pk
    if returning_pk and not wrapper.features.can_return_rows_from_bulk_insert:
        # SQLite before 3.35: a row at a time, each read back by its rowid.
        with cursor() as c:
            for obj, row in zip(objs, rows, strict=True):
                c.execute(_insert_text(wrapper.alias, model, 1, False, with_pk), row)
                setattr(obj, pk.attname, c.lastrowid)
    else:
        with cursor() as c:
            c.execute(_insert_text(wrapper.alias, model, len(objs), returning_pk, with_pk),
                      [value for row in rows for value in row])
            if returning_pk:
                # Rows come back in VALUES order, on PostgreSQL and SQLite (bulk_create
                # relies on it too).
                for obj, (value,) in zip(objs, c.fetchall(), strict=True):
                    setattr(obj, pk.attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = wrapper.alias


def _fields(model: type[Model], with_pk: bool) -> list[Any]:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


def _child_fields(model: type[Model], link: str) -> tuple[Any, list[Any]]:
    """A child model's link to its parent, and its other fields but the key."""
    link_field = model._meta.get_field(link)
    return link_field, [f for f in _fields(model, False) if f is not link_field]


def _db_values(obj: Model, fields: list[Any], wrapper: Any) -> list[Any]:
    """The object's values as an INSERT sends them (pre_save: auto_now_add; then
    get_db_prep_save: the encrypted fields encrypted), as bulk_create prepares them."""
    return [f.get_db_prep_save(f.pre_save(obj, True), connection=wrapper) for f in fields]


@functools.lru_cache(maxsize=64)
def _insert_text(alias: str, model: type[Model], rows: int, returning_pk: bool,
                 with_pk: bool) -> str:
    quote = connections[alias].ops.quote_name
    fields = _fields(model, with_pk)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"INSERT INTO {quote(model._meta.db_table)} "
           f"({', '.join(quote(str(f.column)) for f in fields)}) "
           f"VALUES {', '.join([row] * rows)}")
    if returning_pk:
        sql += f" RETURNING {quote(str(model._meta.pk.column))}"
    return sql


# Rows a step stores, in the step's own statement ------------------------------------------


class Rows:
    """What a step stores: one parent row and its children, each child linked to the parent
    by its foreign key `link`. Called, it inserts them (the parent's key read back, then the
    children: two statements); on PostgreSQL the engine adds them to the step's own
    statement instead (`ctes`), saving the transaction's BEGIN, COMMIT and both INSERTs'
    round trips (docs/performance.md, "Scale in session 9")."""

    def __init__(self, parent: Model, children: Sequence[Model] = (), link: str = "") -> None:
        self.parent = parent
        self.children = list(children)
        self.link = link

    def __call__(self) -> None:
        insert([self.parent], returning_pk=True)
        for child in self.children:
            setattr(child, self.link, self.parent)
        insert(self.children)

    def ctes(self, after: str) -> tuple[str, list[Any]]:
        """WITH items (PostgreSQL) that insert the rows once if the WITH item `after`,
        named before them, returned a row, and not at all if it returned none."""
        wrapper = connections[DEFAULT_DB_ALIAS]
        params = _db_values(self.parent, _fields(type(self.parent), False), wrapper)
        child_model = type(self.children[0]) if self.children else None
        if child_model is not None:
            _, others = _child_fields(child_model, self.link)
            for child in self.children:
                params += _db_values(child, others, wrapper)
        return _rows_text(type(self.parent), child_model, len(self.children), self.link,
                          after), params


@functools.lru_cache(maxsize=64)
def _rows_text(parent: type[Model], child: type[Model] | None, children: int, link: str,
               after: str) -> str:
    """Rows.ctes' text: INSERT ... SELECT, whose parameters PostgreSQL reads as the target
    columns' types (a VALUES list would read an untyped one, a NULL or a string, as text)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    pk = quote(str(parent._meta.pk.column))

    def insert_select(model: type[Model], columns: list[str], values: list[str],
                      source: str, returning: str = "") -> str:
        return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM {source}{returning}")

    fields = _fields(parent, False)
    first = insert_select(parent, [quote(str(f.column)) for f in fields], ["%s"] * len(fields),
                          after, f" RETURNING {pk}")
    items = [f"rows_parent AS ({first})"]
    if child is not None:
        link_field, others = _child_fields(child, link)
        columns = [quote(str(link_field.column)), *(quote(str(f.column)) for f in others)]
        values = [f"rows_parent.{pk}", *(["%s"] * len(others))]
        items += [f"rows_child{n} AS ({insert_select(child, columns, values, 'rows_parent')})"
                  for n in range(children)]
    return ", ".join(items)
