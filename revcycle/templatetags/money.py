"""One format for money on every screen: the currency where it is known, thousands
separators and two decimals ("$1,250.00", "KES 13,000.00"); blank when there is no amount.
Cells that hold money also carry the `money` CSS class, which right-aligns them.

The filter's argument is a currency code ("KES") or the name of a ticket kind or service
(`{{ t.amount|money:t.kind }}`): the registry (revcycle/services.py) knows each service's
currency, so a list that mixes services shows each amount in its own."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from revcycle import services

register = template.Library()

SYMBOLS = {"USD": "$"}  # other currencies read as their code before the amount


def format_money(value: Any, currency: str = "") -> str:
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    code = (services.currency(currency) or currency).upper()
    if code in SYMBOLS:
        return f"{sign}{SYMBOLS[code]}{digits}"
    return f"{sign}{code} {digits}" if code else f"{sign}{digits}"


@register.filter
def money(value: Any, currency: str = "") -> str:
    return format_money(value, currency)

