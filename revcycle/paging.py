"""Pages over lists that may hold a million rows: keyset paging and a count that stops early.

Every list screen (the claim-status, discovery and follow-up worklists, the payer claims
list, the batch page) pages with `KeysetPaginator`. A page is asked for by the row next to
it (`?after=<cursor>` for the next page, `?before=<cursor>` for the previous one), never
by an OFFSET: page 400 reads 51 index entries, as page 1 does, where `?page=400` walked
19,950 rows first. The cursor also carries the page's position, so the pager can say
"rows 19,951-20,000"; that position is a hint (rows added above it shift the list), the
rows themselves are exact: no row twice, none skipped, whatever was added meanwhile.

The count shown beside the pager ("more than 10,000") reads at most COUNT_CAP rows:
Django's Paginator counts the user's whole list on every request, and the worklists'
fragments are polled every few seconds by every open tab. Totals beside a list (the
follow-up worklist's amounts, the payer list's sums) stop at the same cap, in the same
statement as the count (`capped_aggregate`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection
from django.db.models import Count, F, Model, Q, QuerySet

COUNT_CAP = 10_000
PAGING_PARAMS = ("after", "before", "page")
CURSOR_MAX_CHARS = 500  # a cursor holds a sort key (an account, a name) and an id
MAX_ID = 2**63 - 1  # the largest primary key PostgreSQL's bigint (and SQLite) can hold


@dataclass(frozen=True)
class Capped:
    """A count that stopped at a cap, and the aggregates read with it."""

    count: int  # exact when not capped; the cap when capped
    capped: bool
    values: dict[str, Any]  # each aggregate; None when capped


def capped_aggregate(rows: QuerySet[Any], aggregates: Mapping[str, Any] | None = None,
                     cap: int | None = None) -> Capped:
    """The number of `rows` and `aggregates` (alias -> Sum(...)) over them, reading at
    most cap + 1 rows (COUNT_CAP + 1 by default), in one statement: SELECT COUNT(*),
    SUM(...) FROM (... LIMIT cap + 1). Up to `cap` rows all of it is exact; past it the
    count is `cap` (shown "more than cap") and every aggregate is None: a sum of the first
    `cap` rows would be a wrong total."""
    cap = COUNT_CAP if cap is None else cap
    values = rows.order_by()[:cap + 1].aggregate(capped_rows=Count("*"), **(aggregates or {}))
    n = int(values.pop("capped_rows"))
    if n > cap:
        return Capped(cap, True, dict.fromkeys(values))
    return Capped(n, False, values)


def capped_count(rows: QuerySet[Any], cap: int | None = None) -> tuple[int, bool]:
    """(rows, capped): `capped_aggregate` with no aggregate beside the count."""
    counted = capped_aggregate(rows, cap=cap)
    return counted.count, counted.capped


def count_label(count: int, capped: bool) -> str:
    return f"more than {count:,}" if capped else f"{count:,}"


class BadCursor(ValueError):
    """A cursor this list did not write (edited, from another sort, or garbage)."""


@dataclass(frozen=True)
class Key:
    name: str  # a field, a path across relations, or an annotation
    descending: bool
    nullable: bool


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _nulls_first(descending: bool) -> bool:
    """Where the database puts NULLs when it reads an index in this direction: SQLite takes
    NULL as the smallest value, PostgreSQL as the largest."""
    nulls_smallest = connection.vendor != "postgresql"
    return nulls_smallest != descending


def _path_value(row: Any, name: str) -> Any:
    value = row
    for part in name.split("__"):
        try:
            value = getattr(value, part)
        except Exception:  # a missing reverse one-to-one (a ticket without its result)
            return None
        if value is None:
            return None
    return value


@dataclass
class KeysetPage:
    """One page of rows, what the pager shows and where its links lead."""

    rows: list[Any]
    start: int  # rows before this page (a hint, see the module's docstring)
    per_page: int
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    count: int | None = None  # None when the list asked for no count
    capped: bool = False
    params: dict[str, str] = field(default_factory=dict)  # the filters, for the links
    notes: list[str] = field(default_factory=list)  # an ignored cursor, said on the page

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def object_list(self) -> list[Any]:
        return self.rows

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def first_row(self) -> int:
        return self.start + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return self.start + len(self.rows)

    @property
    def range_label(self) -> str:
        return f"{self.first_row:,}–{self.last_row:,}"

    @property
    def count_label(self) -> str:
        return count_label(self.count or 0, self.capped)

    def _query(self, **cursor: str) -> str:
        return urlencode({**self.params, **cursor})

    @property
    def first_query(self) -> str:
        return self._query()

    @property
    def next_query(self) -> str:
        return self._query(after=self.next_cursor)

    @property
    def previous_query(self) -> str:
        # Back to the first page by its own link: it then shows "First" as no cursor at all.
        if self.start <= self.per_page:
            return self._query()
        return self._query(before=self.previous_cursor)


class KeysetPaginator:
    """Keyset pages of `rows` in `order` (Django's order_by names; the last must be the
    primary key, which makes every row's key unique). `nullable` names the keys that may
    be NULL (a left join, an optional column): their conditions add IS NULL terms."""

    def __init__(self, rows: QuerySet[Any], order: Sequence[str], per_page: int, *,
                 nullable: Iterable[str] = (), params: Mapping[str, Any] | None = None,
                 count: bool = True, cap: int | None = None) -> None:
        if order[-1].lstrip("-") not in ("id", "pk"):
            raise ValueError("a keyset order ends with the primary key")
        may_be_null = set(nullable)
        self.keys = [Key(o.lstrip("-"), o.startswith("-"), o.lstrip("-") in may_be_null)
                     for o in order]
        self.rows = rows
        self.per_page = per_page
        self.count = count
        self.cap = COUNT_CAP if cap is None else cap  # read when called: tests lower it
        self.params = {k: str(v) for k, v in (params or {}).items()
                       if k not in PAGING_PARAMS and v not in (None, "")}

    # Cursors ---------------------------------------------------------------------------

    def cursor_of(self, row: Any, position: int) -> str:
        """The cursor of `row`: its key, and `position`, the rows a page read from it starts
        after (for a "next" link, the rows up to and including it)."""
        values = [_plain(_path_value(row, k.name)) for k in self.keys]
        return json.dumps([position, *values], separators=(",", ":"))

    def _field(self, name: str) -> Any:
        annotation = self.rows.query.annotations.get(name)
        if annotation is not None:
            return annotation.output_field
        model: type[Model] = self.rows.model
        found: Any = None
        for part in name.split("__"):
            found = model._meta.get_field(part)
            if found.is_relation and found.related_model is not None:
                model = found.related_model
        return found.target_field if found.is_relation else found

    def parse(self, raw: str) -> tuple[int, list[Any]]:
        """(position, typed key values) of a cursor; BadCursor for anything else."""
        try:
            position, *values = json.loads(raw)
            if (not isinstance(position, int) or not 0 <= position <= 10**9
                    or len(values) != len(self.keys)):
                raise BadCursor(raw)
            typed = []
            for key, value in zip(self.keys, values, strict=True):
                if value is None and not key.nullable:
                    raise BadCursor(raw)
                if isinstance(value, str) and "\x00" in value:
                    raise BadCursor(raw)  # a NUL PostgreSQL would refuse
                typed.append(None if value is None else self._field(key.name).to_python(value))
        except (ValueError, TypeError, ValidationError, FieldDoesNotExist) as exc:
            raise BadCursor(raw) from exc
        if not isinstance(typed[-1], int) or not 1 <= typed[-1] <= MAX_ID:
            raise BadCursor(raw)
        for value in typed:
            if isinstance(value, Decimal) and (not value.is_finite()
                                               or abs(value) >= Decimal("1e13")):
                raise BadCursor(raw)
        return position, typed

    # Queries ---------------------------------------------------------------------------

    def _ordered(self, backward: bool) -> QuerySet[Any]:
        terms = []
        for key in self.keys:
            descending = key.descending != backward
            terms.append(F(key.name).desc() if descending else F(key.name).asc())
        return self.rows.order_by(*terms)

    def _past(self, values: list[Any], backward: bool) -> Q:
        """Rows strictly past the cursor's key in the reading direction, lexicographically:
        (k1 past v1) or (k1 = v1 and (k2 past v2 or ...)), NULLs where the database puts
        them. The first key also gets a plain range (k1 >= v1) an index can seek to."""
        condition: Q | None = None
        for key, value in reversed(list(zip(self.keys, values, strict=True))):
            descending = key.descending != backward
            op = "lt" if descending else "gt"
            nulls_first = key.nullable and _nulls_first(descending)
            nulls_last = key.nullable and not nulls_first
            if value is None:  # past a NULL: the rest of the NULLs, then (nulls first) values
                same = Q(**{f"{key.name}__isnull": True})
                past = Q(**{f"{key.name}__isnull": False}) if nulls_first else Q(pk__in=[])
            else:
                same = Q(**{key.name: value})
                past = Q(**{f"{key.name}__{op}": value})
                if nulls_last:
                    past |= Q(**{f"{key.name}__isnull": True})
            condition = past if condition is None else past | (same & condition)
        assert condition is not None
        first, first_value = self.keys[0], values[0]
        descending = first.descending != backward
        if first_value is not None and not (first.nullable and not _nulls_first(descending)):
            condition &= Q(**{f"{first.name}__{'lte' if descending else 'gte'}": first_value})
        return condition

    def _window(self, values: list[Any] | None, backward: bool) -> QuerySet[Any]:
        rows = self._ordered(backward)
        if values is not None:
            rows = rows.filter(self._past(values, backward))
        return rows[:self.per_page + 1]

    def query(self, after: str = "", before: str = "") -> QuerySet[Any]:
        """The statement that reads the asked page (its plan is what the tests assert)."""
        if before:
            return self._window(self.parse(before)[1], backward=True)
        return self._window(self.parse(after)[1] if after else None, backward=False)

    def _read(self, after: str, before: str) -> tuple[list[Any], int, bool, bool, list[str]]:
        """(rows, position, has_next, has_previous, notes) of the asked page."""
        notes: list[str] = []
        try:
            if before:
                position, values = self.parse(before)
                rows = list(self._window(values, backward=True))
                if len(rows) > self.per_page:
                    rows = rows[:self.per_page]
                    rows.reverse()
                    return rows, max(position - self.per_page, 1), True, True, notes
                # Fewer than a page before it: that is the first page, drawn from the top.
            elif after:
                position, values = self.parse(after)
                rows = list(self._window(values, backward=False))
                return rows[:self.per_page], position, len(rows) > self.per_page, True, notes
        except BadCursor:
            notes.append("Ignored the page position: it is not one of this list's pages; "
                         "showing the first page")
        rows = list(self._window(None, backward=False))
        return rows[:self.per_page], 0, len(rows) > self.per_page, False, notes

    def page(self, after: str = "", before: str = "") -> KeysetPage:
        rows, position, has_next, has_previous, notes = self._read(after, before)
        count, capped = capped_count(self.rows, self.cap) if self.count else (None, False)
        page = KeysetPage(rows=rows, start=position, per_page=self.per_page,
                          has_next=has_next, has_previous=has_previous,
                          count=count, capped=capped, params=self.params, notes=notes)
        if rows:
            page.next_cursor = self.cursor_of(rows[-1], position + len(rows))
            page.previous_cursor = self.cursor_of(rows[0], position)
        return page

    # Polls -----------------------------------------------------------------------------

    def fingerprint(self, after: str = "", before: str = "",
                    fields: Sequence[str] = ("id", "state", "updated_at")) -> str:
        """What a page shows, as a short hash, read without its joins, its count or its
        template: a poll whose page did not change is answered with it alone."""
        values_of = self.rows.values_list(*fields)
        reader = KeysetPaginator(values_of, [("-" if k.descending else "") + k.name
                                             for k in self.keys], self.per_page,
                                 nullable=[k.name for k in self.keys if k.nullable],
                                 count=False, cap=self.cap)
        rows, _position, has_next, _prev, _notes = reader._read(after, before)
        return rows_fingerprint(rows, has_next)


def rows_fingerprint(rows: Iterable[Any], has_next: bool, *extra: Any) -> str:
    """The hash `KeysetPaginator.fingerprint` gives, from (id, state, updated_at) tuples or
    from the model rows themselves (what a page just drew)."""
    plain = [row if isinstance(row, tuple) else (row.pk, row.state, row.updated_at)
             for row in rows]
    text = repr(([tuple(_plain(v) for v in row) for row in plain], has_next, extra))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
