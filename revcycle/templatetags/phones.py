"""Phone and fax numbers written one way: US numbers as (555) 123-4567, Kenyan numbers in
their national grouping (0712 345 678, +254 712 345 678); anything else as it came (an
extension, a number from elsewhere), since reshaping it could make it wrong."""

from __future__ import annotations

import re
from typing import Any

from django import template

register = template.Library()


def format_phone(value: Any) -> str:
    text = str(value or "").strip()
    digits = re.sub(r"\D", "", text)
    if re.search(r"[^\d\s().+\-/]", text):
        return text  # letters ("ext 12", "x5"): not ours to reshape
    if len(digits) == 11 and digits.startswith("1") and not text.startswith("+254"):
        digits = digits[1:]  # the US country code
    if len(digits) == 10 and digits[0] in "23456789":  # a US area code never starts 0 or 1
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if len(digits) == 12 and digits.startswith("254"):
        return f"+254 {digits[3:6]} {digits[6:9]} {digits[9:]}"
    if len(digits) == 10 and digits.startswith("0"):  # Kenyan, dialled at home
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return text


@register.filter
def phone(value: Any) -> str:
    return format_phone(value)
