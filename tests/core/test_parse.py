"""revcycle.parse: every odd value the services send, read once here for every client."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from revcycle import parse

D = Decimal


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""),
    ("", ""),
    ("   ", ""),
    ("null", ""),
    ("NULL", ""),
    ("None", ""),
    (" AETNA ", "AETNA"),
    (12, "12"),
])
def test_text_reads_missing_words_as_empty(value, expected):
    assert parse.text(value) == expected


def test_text_is_cut_to_the_columns_size():
    assert parse.text("abcdef", limit=3) == "abc"


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10-01", date(2026, 10, 1)),
    (" 2026-10-01 ", date(2026, 10, 1)),
    ("2026-10-01T08:30:00Z", date(2026, 10, 1)),
    ("2026-10-01 08:30", date(2026, 10, 1)),
    (date(2026, 10, 1), date(2026, 10, 1)),
    (datetime(2026, 10, 1, 8, 30), date(2026, 10, 1)),
    ("", None),
    ("null", None),
    (None, None),
    ("2026-13-40", None),
    ("10/01/2026", None),
    ("soon", None),
])
def test_day_reads_yyyy_mm_dd_and_nothing_else(value, expected):
    assert parse.day(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("12345678.90", D("12345678.90")),
    ("1,234.50", D("1234.50")),
    ("$12.00", D("12.00")),
    (" 12 ", D("12.00")),
    ("12.345", D("12.35")),  # rounded to cents, as the column stores it
    ("-5", D("-5.00")),
    (12, D("12.00")),
    (12.5, D("12.50")),
    (0.1, D("0.10")),
    (D("7.1"), D("7.10")),
    ("NaN", None),
    ("nan", None),
    ("sNaN", None),
    ("Infinity", None),
    ("-Infinity", None),
    (float("nan"), None),
    (float("inf"), None),
    (D("NaN"), None),
    ("", None),
    ("null", None),
    ("None", None),
    (None, None),
    (True, None),
    ("twelve", None),
    ("1e999999999", None),  # finite, but more digits than Decimal's context holds
    ("10000000000", None),  # 11 digits before the point: too large for max_digits=12
    ("9999999999.99", D("9999999999.99")),
])
def test_amount_is_a_finite_decimal_or_missing(value, expected):
    assert parse.amount(value) == expected


def test_amount_fits_a_wider_column_when_told_its_size():
    assert parse.amount("10000000000", max_digits=14) == D("10000000000.00")


@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3),
    (3, 3),
    (3.0, 3),
    ("3.00", 3),
    (" 3 ", 3),
    ("2.5", None),
    ("NaN", None),
    ("Infinity", None),
    ("", None),
    ("null", None),
    (None, None),
    (True, None),
    (str(2**31), None),  # past IntegerField's range
    ("1e999999999", None),
])
def test_integer_is_a_whole_number_in_range_or_missing(value, expected):
    assert parse.integer(value) == expected


def test_integer_keeps_to_the_bounds_it_is_given():
    assert parse.integer("-1", minimum=0) is None
    assert parse.integer("0", minimum=0) == 0


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("Y", True), ("true", True), ("1", True),
    (False, False), ("N", False), ("false", False), ("0", False),
    ("", None), ("null", None), (None, None), ("maybe", None),
])
def test_flag_reads_yes_and_no_however_written(value, expected):
    assert parse.flag(value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10-01", date(2026, 10, 1)),
    ("10/1/2026", date(2026, 10, 1)),
    ("01/02/1970", date(1970, 1, 2)),
    ("1/2/70", date(1970, 1, 2)),
    ("3/4/26", date(2026, 3, 4)),
    (date(2026, 10, 1), date(2026, 10, 1)),
    ("", None),
])
def test_user_day_reads_iso_and_us_dates(value, expected):
    assert parse.user_day(value, today=date(2026, 12, 3)) == expected


@pytest.mark.parametrize(("value", "says"), [
    ("2/30/2026", "'2/30/2026' is not a day of the calendar"),
    ("13/01/2026", "'13/01/2026' is not a day of the calendar"),
    ("1.2.1970", "'1.2.1970' is not a date"),
])
def test_user_day_names_an_impossible_or_unreadable_value(value, says):
    with pytest.raises(ValueError, match=says):
        parse.user_day(value)
