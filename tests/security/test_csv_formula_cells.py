"""Every CSV export quotes every cell and neutralises a formula wherever a spreadsheet
could start one: at the cell's start and after `;`, `,`, tab, CR or LF (issue 14, #10)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from revcycle.csvio import csv_lines, safe_cell, stream_csv


@pytest.mark.parametrize("cell,expected", [
    ("=1+1", "'=1+1"),
    ("DOE;=cmd|' /C calc'!A0", "DOE;'=cmd|' /C calc'!A0"),
    ("DOE,@SUM(A1)", "DOE,'@SUM(A1)"),
    ("DOE\t=cmd", "DOE\t'=cmd"),
    ("\t=cmd", "'\t'=cmd"),
    ("DOE\r\n+HYPERLINK(1)", "DOE\r\n'+HYPERLINK(1)"),
    ("DOE; =cmd", "DOE;' =cmd"),
])
def test_a_formula_after_a_separator_is_neutralised(cell: str, expected: str) -> None:
    assert safe_cell(cell) == expected


@pytest.mark.parametrize("cell", ["-12.50", "DOE, JANE", "1;-2", "ACC-1001", "", 12, None])
def test_numbers_and_plain_text_are_left_alone(cell: Any) -> None:
    assert safe_cell(cell) == ("" if cell is None else cell)


def test_every_cell_of_an_export_is_quoted() -> None:
    line = "".join(csv_lines(["a", "b", "c"], [["DOE;=cmd|' /C calc'!A0", 5, "x"]]))
    assert line.splitlines() == ['"a","b","c"', '"DOE;\'=cmd|\' /C calc\'!A0","5","x"']


@pytest.mark.django_db  # a stream reads its rows in a transaction on PostgreSQL
def test_a_streamed_export_reads_back_with_the_formulas_neutralised() -> None:
    response = stream_csv("x.csv", ["name"], [["JANE\t=cmd"], ["DOE;=cmd|' /C calc'!A0"]])
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name"], ["JANE\t'=cmd"], ["DOE;'=cmd|' /C calc'!A0"]]
    assert all(line.startswith('"') for line in text.splitlines() if line)
