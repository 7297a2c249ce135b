"""The plain outcome of a claim status answer, and what the biller does next.

X12 277 category codes (STC01-1) say where the claim stands; a few status codes (STC01-2)
mean the payer could not find it whatever the category.
"""

from __future__ import annotations

from decimal import Decimal

from revcycle import parse

PAID = "paid"
DENIED = "denied"
PENDING = "pending"
REJECTED = "rejected"
NOT_FOUND = "not_found"
ERROR = "error"

OUTCOME_LABELS: dict[str, str] = {
    PAID: "Paid",
    DENIED: "Denied",
    PENDING: "Pending",
    REJECTED: "Rejected",
    NOT_FOUND: "Not found",
    ERROR: "Error",
}
OUTCOME_CHOICES = list(OUTCOME_LABELS.items())

OUTCOME_ADVICE: dict[str, str] = {
    PAID: "Post the payment; compare the paid amount with the expected amount.",
    DENIED: "Read the denial reasons (CARC/RARC) below; correct and resubmit or appeal.",
    PENDING: "The payer is still working on it; revcycle will check again.",
    REJECTED: (
        "The payer rejected the claim at the front door: fix the data it names and resubmit."
    ),
    NOT_FOUND: (
        "Widen the date-of-service window (±30 days) and check the member id and the payer "
        "id, then check again."
    ),
    ERROR: "The request could not be answered: read the error, fix it, and check again.",
}

# 35: claim/encounter not found; 97: patient eligibility not found with the entity.
NOT_FOUND_STATUSES = frozenset({"35", "97"})

CATEGORY_OUTCOMES: dict[str, str] = {
    "A0": PENDING,  # forwarded to another entity
    "A1": PENDING,  # received, not yet accepted
    "A2": PENDING,  # accepted into adjudication
    "A5": PENDING,  # split on acceptance
    "A3": REJECTED,
    "A6": REJECTED,
    "A7": REJECTED,
    "A8": REJECTED,
    "A4": NOT_FOUND,
    "D0": NOT_FOUND,  # the search found nothing
    "F1": PAID,
    "F2": DENIED,
    "F5": REJECTED,  # finalized, cannot process: fix and resubmit, as for a rejection
}
# Finalized without saying paid or denied: the payment amount decides. F4 is "no payment
# forthcoming", so without a payment it is a denial.
PAID_IF_PAYMENT = frozenset({"F0", "F3", "F3F", "F3N", "F4"})


def _status(code: str | None) -> str:
    code = (code or "").strip()
    return str(int(code)) if code.isdigit() else code.upper()


def plain_outcome(
    category_code: str | None,
    status_code: str | None = None,
    payment_amount: Decimal | str | None = None,
) -> str:
    """One of paid, denied, pending, rejected, not_found or error."""
    if _status(status_code) in NOT_FOUND_STATUSES:
        return NOT_FOUND
    category = (category_code or "").strip().upper()
    if category in CATEGORY_OUTCOMES:
        return CATEGORY_OUTCOMES[category]
    if category in PAID_IF_PAYMENT:
        payment = parse.amount(payment_amount, max_digits=14)
        return PAID if payment is not None and payment > 0 else DENIED
    # Pending (P0-P5) and requests for more information (R0-R17): the payer is still on it.
    if category[:1] in ("P", "R") and category[1:].isdigit():
        return PENDING
    # E0-E4 are errors in the request or the payer's system; blank and unknown codes too.
    return ERROR


def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome.replace("_", " ").capitalize())


def outcome_advice(outcome: str) -> str:
    return OUTCOME_ADVICE.get(outcome, OUTCOME_ADVICE[ERROR])
