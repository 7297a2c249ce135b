from __future__ import annotations

from django import template

from claims.descriptions import code_label as _code_label
from claims.outcomes import outcome_label as _outcome_label

register = template.Library()


@register.simple_tag
def code_label(code_set: str, code: str, payer_description: str = "") -> str:
    """{% code_label "x12_status" line.status_code line.status_description %}"""
    return _code_label(code_set, code, payer_description)


@register.filter
def outcome_label(outcome: str) -> str:
    return _outcome_label(outcome) if outcome else ""
