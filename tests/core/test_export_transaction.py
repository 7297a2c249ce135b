"""Exports read their rows in one transaction on PostgreSQL, and in none on SQLite.

The rows come through `.iterator()`, a server-side cursor on PostgreSQL. Outside a
transaction each FETCH is a transaction of its own, and behind PgBouncer in transaction
mode the next one can reach another server connection: "portal ... does not exist"
(seen with PgBouncer 1.18, docs/performance.md). On SQLite a transaction takes the write
lock at BEGIN, so an export must not open one. These tests run without the test's own
transaction (transaction=True), as a request does."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from revcycle import csvio, xlsxio

pytestmark = pytest.mark.django_db(transaction=True)

IN_ONE_TRANSACTION = connection.vendor == "postgresql"


def _rows(seen: list[bool], count: int = 3) -> Iterator[list[Any]]:
    for i in range(count):
        seen.append(connection.in_atomic_block)
        yield [i, f"row {i}"]


def test_a_streamed_csv_export_reads_every_row_in_one_transaction_on_postgresql() -> None:
    seen: list[bool] = []
    response = csvio.stream_csv("x.csv", ["n", "text"], _rows(seen))
    assert not connection.in_atomic_block  # nothing is read until the body is

    body = b"".join(response.streaming_content)

    assert body.count(b"\n") == 4
    assert seen == [IN_ONE_TRANSACTION] * 3
    assert not connection.in_atomic_block  # and the transaction ends with the rows


def test_an_export_the_browser_stops_leaves_no_transaction_open() -> None:
    seen: list[bool] = []
    response = csvio.stream_csv("x.csv", ["n", "text"], _rows(seen, count=1000))
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)

    response.close()  # what the server does when the download is cancelled

    assert seen == [IN_ONE_TRANSACTION]  # the row was read in the transaction...
    assert not connection.in_atomic_block  # ...which the cancelled download ended


def test_an_xlsx_export_reads_its_rows_in_one_transaction_on_postgresql() -> None:
    seen: list[bool] = []
    sheets = [xlsxio.Sheet("Rows", ["n", "text"], _rows(seen), {}),
              xlsxio.Sheet("More", ["n", "text"], _rows(seen), {})]

    assert xlsxio.write_xlsx(io.BytesIO(), sheets) == 6

    assert seen == [IN_ONE_TRANSACTION] * 6
    assert not connection.in_atomic_block


def test_a_csv_written_to_a_file_reads_its_rows_in_one_transaction_on_postgresql() -> None:
    seen: list[bool] = []
    out = io.StringIO()

    csvio.write_csv(out, ["n", "text"], _rows(seen))

    assert out.getvalue().count("\n") == 4
    assert seen == [IN_ONE_TRANSACTION] * 3
