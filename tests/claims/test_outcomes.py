from __future__ import annotations

from decimal import Decimal

import pytest

from claims.outcomes import (
    OUTCOME_ADVICE,
    OUTCOME_LABELS,
    outcome_advice,
    outcome_label,
    plain_outcome,
)

OUTCOMES = {"paid", "denied", "pending", "rejected", "not_found", "error"}


def test_every_outcome_has_a_label_and_a_next_action() -> None:
    assert set(OUTCOME_LABELS) == set(OUTCOME_ADVICE) == OUTCOMES


def test_f1_is_paid_and_f2_is_denied() -> None:
    assert plain_outcome("F1", "65") == "paid"
    assert plain_outcome("F2", "88") == "denied"


@pytest.mark.parametrize("category", ["F0", "F3", "F3F", "F3N", "F4"])
def test_other_finalized_answers_are_paid_when_money_was_paid(category: str) -> None:
    assert plain_outcome(category, "1", Decimal("12.50")) == "paid"
    assert plain_outcome(category, "1", "12345678.90") == "paid"


@pytest.mark.parametrize("category", ["F0", "F3", "F3F", "F3N", "F4"])
@pytest.mark.parametrize("payment", [None, Decimal("0"), "0.00", "", "null"])
def test_other_finalized_answers_are_denied_without_a_payment(
    category: str, payment: Decimal | str | None
) -> None:
    assert plain_outcome(category, "1", payment) == "denied"


def test_f4_with_no_payment_forthcoming_is_a_denial() -> None:
    assert plain_outcome("F4", "3") == "denied"


@pytest.mark.parametrize("category", ["A3", "A6", "A7", "A8"])
def test_front_door_rejections_are_rejected(category: str) -> None:
    assert plain_outcome(category, "21") == "rejected"


@pytest.mark.parametrize("category", ["A4", "D0"])
def test_a_claim_the_payer_cannot_find_is_not_found(category: str) -> None:
    assert plain_outcome(category, "0") == "not_found"


@pytest.mark.parametrize("category", ["A1", "F1", "P1", "", "E0"])
@pytest.mark.parametrize("status", ["35", "97", "035"])
def test_status_35_or_97_is_not_found_whatever_the_category(category: str, status: str) -> None:
    assert plain_outcome(category, status) == "not_found"


@pytest.mark.parametrize("category", ["A0", "A1", "A2", "A5", "P0", "P1", "P2", "P3", "P4",
                                      "P5", "R0", "R1", "R3", "R4", "R5", "R16"])
def test_acknowledged_pending_and_requests_for_information_are_pending(category: str) -> None:
    assert plain_outcome(category, "20") == "pending"


@pytest.mark.parametrize("category", ["E0", "E1", "E2", "E3", "E4", "", None, "ZZ", "PX", "F9"])
def test_errors_blank_and_unknown_categories_are_errors(category: str | None) -> None:
    assert plain_outcome(category, "") == "error"


def test_codes_are_read_whatever_their_case_and_spacing() -> None:
    assert plain_outcome(" f1 ", None) == "paid"
    assert plain_outcome("a7", " 21 ") == "rejected"


def test_an_unknown_outcome_gets_a_readable_label_and_the_error_advice() -> None:
    assert outcome_label("not_found") == "Not found"
    assert outcome_label("on_hold") == "On hold"
    assert outcome_advice("on_hold") == OUTCOME_ADVICE["error"]
