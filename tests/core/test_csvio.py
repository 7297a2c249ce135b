"""CSV in with lenient headers, CSV out without formulas."""

from __future__ import annotations

import csv
import io

import pytest

from revcycle.csvio import Column, decode, lenient_get, normalise_key, read_csv, stream_csv

COLUMNS = [
    Column("accountNumber", "account_number", aliases=["Account #", "acct"], required=True),
    Column("patientLastName", "last_name", aliases=["Last Name"], required=True),
    Column("memberId", "member_id"),
]


def test_headers_are_matched_by_name_alias_or_field_whatever_the_case() -> None:
    parsed = read_csv("ACCOUNT #,last name,Member_ID\nACC1, Doe ,M1\n", COLUMNS)
    assert parsed.missing_required == [] and parsed.unknown_headers == []
    assert list(parsed.rows) == [(2, {"account_number": "ACC1", "last_name": "Doe",
                                      "member_id": "M1"})]


def test_missing_required_columns_and_unknown_headers_are_reported() -> None:
    parsed = read_csv("acct,Favourite colour\nACC1,blue\n", COLUMNS)
    assert parsed.missing_required == ["patientLastName"]
    assert parsed.unknown_headers == ["Favourite colour"]


def test_blank_rows_are_skipped_and_line_numbers_kept() -> None:
    parsed = read_csv("acct;Last Name\nA1;Doe\n;\nA2;Roe\n", COLUMNS)
    assert [line for line, _ in parsed.rows] == [2, 4]


def test_a_row_longer_than_the_header_is_marked() -> None:
    rows = list(read_csv("acct,Last Name\nA1,Doe,extra\n", COLUMNS).rows)
    assert "__extra__" in rows[0][1]


@pytest.mark.parametrize("a,b", [
    ("oop($) IndivInNetworkRemain ing", "oop($)IndivInNetworkRemaining"),
    ("OOP_IndivInNetwork", "oop($) IndivInNetwork"),
    ("trackingId1", "Tracking ID 1"),
])
def test_normalise_key_matches_the_spellings_integrex_uses(a: str, b: str) -> None:
    assert normalise_key(a) == normalise_key(b)


def test_lenient_get_finds_an_odd_key() -> None:
    data = {"oop($) IndivInNetworkRemain ing": "150.00"}
    assert lenient_get(data, "oopIndivInNetworkRemaining") == "150.00"
    assert lenient_get(data, "missing", default=None) is None


def test_decode_reads_a_spreadsheets_bom_and_windows_text() -> None:
    assert decode("\ufeffacct\n".encode("utf-8")) == "acct\n"
    assert decode("Müller".encode("cp1252")) == "Müller"


@pytest.mark.django_db  # a stream reads its rows in a transaction on PostgreSQL
def test_exported_formulas_are_neutralised() -> None:
    rows = [["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "-12.50", "42", None,
             "plain"]]
    response = stream_csv("out.csv", ["a", "b", "c", "d", "e", "f", "g", "h"], rows)
    text = b"".join(response.streaming_content).decode()
    cells = list(csv.reader(io.StringIO(text)))[1]
    assert cells[:4] == ["'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2+3", "'@SUM(A1)"]
    assert cells[4:] == ["-12.50", "42", "", "plain"]
    assert response["Content-Disposition"] == 'attachment; filename="out.csv"'
