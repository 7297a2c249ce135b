"""Reading values out of the services' answers: one lenient reader per type.

Every client (Integrex claim status and discovery, Smart, the HCMS payer) and the CSV
summary read answers through these functions, so an odd value means the same thing
everywhere. The rule: a value we cannot read is *missing* (empty text or None), never an
exception. An exception here would reach the engine as a failed step, and the engine
would retry a perfectly good answer until it gave up (docs/pitfalls.md, "Numbers").

What the services send (docs/integrex.md, "What we accept"): text with stray spaces or
the word `null`; dates as yyyy-mm-dd, sometimes with a time after them; amounts as JSON
numbers or as strings (`"12345678.90"`, `"1,234.50"`, `"$12.00"`, `" 12 "`), and now and
then `NaN` or `Infinity`, which Decimal reads without complaint and a DecimalField then
refuses at save time."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Text the services use to say "no value".
MISSING_WORDS = frozenset({"", "null", "none", "n/a"})

# The bounds of Django's IntegerField on every database we run on.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def text(value: Any, limit: int | None = None) -> str:
    """Stripped text; "" for None, empty, "null" or "None". `limit` cuts to a column's size."""
    if value is None:
        return ""
    result = str(value).strip()
    if result.lower() in MISSING_WORDS:
        return ""
    return result[:limit] if limit is not None else result


def day(value: Any) -> date | None:
    """A date from yyyy-mm-dd (anything after the 10th character, such as a time, is
    ignored); None when missing or unreadable. The services write ISO dates; what people
    type or upload goes through user_day."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(value)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})")


def _two_digit_year(yy: int, today: date) -> int:
    """`m/d/yy`: the latest year ending in yy that is not after this year (a date of birth
    or of service is rarely in the future; 1/2/70 is 1970, 3/4/25 is 2025)."""
    year = today.year - today.year % 100 + yy
    return year if year <= today.year else year - 100


def user_day(value: Any, today: date | None = None) -> date | None:
    """A date a person wrote: yyyy-mm-dd (a time after it ignored), `m/d/yyyy`,
    `mm/dd/yyyy` or `m/d/yy` (US order), or a spreadsheet's date cell. None when blank;
    ValueError naming the value when it is not one date (13/01/2026, 2/30/2026)."""
    if isinstance(value, (date, datetime)):
        return day(value)
    raw = text(value)
    if not raw:
        return None
    match = US_DATE.fullmatch(raw)
    try:
        if match:
            month, dom, year = (int(g) for g in match.groups())
            if len(match.group(3)) == 2:
                year = _two_digit_year(year, today or date.today())
            return date(year, month, dom)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", raw):
            return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValueError(f"{raw!r} is not a day of the calendar (dates are read as "
                         "yyyy-mm-dd or month/day/year).") from None
    raise ValueError(f"{raw!r} is not a date: write yyyy-mm-dd or month/day/year "
                     "(e.g. 1970-01-02 or 1/2/1970).")


def _decimal(value: Any) -> Decimal | None:
    """Any finite number the services write, as a Decimal; None otherwise."""
    if value is None or isinstance(value, bool):
        return None  # True is an int to Python, never an amount to us
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, float)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        raw = text(value).replace(",", "").replace("$", "").replace(" ", "")
        if not raw:
            return None
        try:
            number = Decimal(raw)
        except (InvalidOperation, ValueError):
            return None
    return number if number.is_finite() else None


def amount(value: Any, *, max_digits: int = 12, places: int = 2) -> Decimal | None:
    """An amount for a DecimalField(max_digits, places): rounded to `places`; None when
    missing, unreadable, NaN, infinite, or too large for the column (saving it would raise)."""
    number = _decimal(value)
    if number is None:
        return None
    try:
        # Half up, as a person rounds cents (Decimal's default would round 12.345 to 12.34).
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the decimal context holds
        return None
    if abs(number) >= Decimal(10) ** (max_digits - places):
        return None
    return number


def integer(value: Any, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """A whole number between `minimum` and `maximum`; "3", 3.0 and "3.00" read as 3.
    None when missing, fractional, non-finite or out of range."""
    number = _decimal(value)
    # The range first: int() of "1e999999999" would build a billion-digit number.
    if number is None or not minimum <= number <= maximum:
        return None
    if number != number.to_integral_value():
        return None
    return int(number)


TRUE_WORDS = frozenset({"true", "t", "y", "yes", "1"})
FALSE_WORDS = frozenset({"false", "f", "n", "no", "0"})


def flag(value: Any) -> bool | None:
    """A yes/no the services write as a JSON boolean or as text (true/Y/1, false/N/0)."""
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None
