"""Code descriptions for claim status screens: ours first (revcycle.codes), the payer's
own description when we have none."""

from __future__ import annotations

from typing import Any

from claims.outcomes import outcome_advice, outcome_label
from revcycle import codes


def describe(code_set: str, code: str) -> str:
    return codes.describe(code_set, code) or ""


def code_label(code_set: str, code: str, payer_description: str = "") -> str:
    """"F2: Finalized/denial ..." from our list, else from the payer's description."""
    if not code:
        return payer_description
    ours = codes.describe(code_set, code)
    if ours:
        return codes.label(code_set, code)
    if payer_description:
        return f"{codes.normalise_code(code_set, code)}: {payer_description}"
    return codes.label(code_set, code)


def status_labels(result: Any) -> dict[str, str]:
    return {
        "category": code_label("x12_category", result.category_code,
                               result.category_description),
        "status": code_label("x12_status", result.status_code, result.status_description),
    }


def advice(outcome: str) -> dict[str, str]:
    if not outcome:
        return {}
    return {"label": outcome_label(outcome), "text": outcome_advice(outcome)}
