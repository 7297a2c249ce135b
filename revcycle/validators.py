"""Validators shared by forms, CSV rows and models; messages say what to fix."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError

from revcycle import parse


def npi_is_valid(npi: str) -> bool:
    """Luhn check over the NPI with the 80840 prefix (CMS NPI check digit standard)."""
    if not re.fullmatch(r"\d{10}", npi or ""):
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def validate_npi(value: str) -> None:
    if not value:
        return
    if not re.fullmatch(r"\d{10}", value):
        raise ValidationError(f"An NPI has 10 digits; {value!r} does not.")
    if not npi_is_valid(value):
        raise ValidationError(f"NPI {value} fails its check digit: look for a mistyped digit.")


SSN_RE = re.compile(r"^(?!000|666|9\d\d)\d{3}-?(?!00)\d{2}-?(?!0000)\d{4}$")


def normalise_ssn(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    if not SSN_RE.match(value):
        raise ValidationError("An SSN is 9 digits, as 123-45-6789 or 123456789.")
    digits = value.replace("-", "")
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


# Kept under their old names for forms and filters; the reading itself lives in parse.py.
parse_amount = parse.amount
parse_date = parse.day


def validate_not_future(value: date) -> None:
    if value and value > date.today():
        raise ValidationError("This date is in the future.")


class DayField(forms.DateField):
    """A date typed on a form or read from an upload's cell: yyyy-mm-dd, month/day/year
    (parse.user_day); an impossible one is refused with the value in the message."""

    def to_python(self, value: Any) -> date | None:
        if value in self.empty_values:
            return None
        try:
            return parse.user_day(value)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def strptime(self, value: str, format: str) -> date:  # noqa: A002 - Django's name
        return parse.user_day(value) or date.min


def validate_time_zone(value: str) -> None:
    """An IANA zone name that zoneinfo knows (America/Chicago, UTC)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a time zone name; use an IANA name such as "
                              "America/Chicago.") from exc
