"""Reading claim-info answers: list or object, odd key spellings, "null" and empty values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from claims.flow import parse_claim_info
from tests.claims.helpers import CLAIM_LEVEL, denied_lines, paid_object


def test_it_reads_a_list_of_service_lines_with_the_claim_level_from_the_first():
    info = parse_claim_info(denied_lines())
    assert info.claim["payer_claim_number"] == "PCN-778899"
    assert info.claim["charge_amount"] == Decimal("1250.00")
    assert info.claim["date_of_service"] == date(2026, 10, 1)
    assert [line.svc_line for line in info.lines] == [1, 2]
    assert info.lines[0].reasons[2] == ("16", "Claim lacks information")
    assert info.outcome == "denied"


def test_it_reads_a_single_object_as_one_line():
    info = parse_claim_info(paid_object())
    assert len(info.lines) == 1
    assert info.outcome == "paid"


def test_it_reads_the_garbled_authorization_key_and_the_correct_one():
    assert parse_claim_info(CLAIM_LEVEL).claim["authorization_case_id"] == "AUTH-55"
    fixed = {k: v for k, v in CLAIM_LEVEL.items() if k != "authorizationCaseld"}
    fixed["authorizationCaseId"] = "AUTH-66"
    assert parse_claim_info(fixed).claim["authorization_case_id"] == "AUTH-66"


def test_keys_are_matched_leniently():
    odd = {"Category Code": "F1", "status_code": "1", "PAYMENTAMT": "12.50",
           "payer clm no": "X1", "svc_line": "3", "procedure cd": "99213"}
    info = parse_claim_info(odd)
    assert info.claim["payer_claim_number"] == "X1"
    assert info.claim["payment_amount"] == Decimal("12.50")
    assert info.lines[0].svc_line == 3
    assert info.outcome == "paid"


def test_null_means_eft_for_the_check_cashed_date():
    info = parse_claim_info(CLAIM_LEVEL)
    assert info.claim["is_eft"] is True
    assert info.claim["date_check_cashed"] is None
    cashed = parse_claim_info(CLAIM_LEVEL | {"dateCheckCashed": "2026-10-30"})
    assert cashed.claim["is_eft"] is False
    assert cashed.claim["date_check_cashed"] == date(2026, 10, 30)


def test_empty_and_null_amounts_are_none():
    info = parse_claim_info(denied_lines())
    line = info.lines[1]
    assert line.coinsurance_amount is None and line.copay_amount is None
    assert line.units == Decimal("2.00")


def test_a_claim_without_lines_keeps_its_claim_level_status():
    info = parse_claim_info({"categoryCode": "A4", "statusCode": "35"})
    assert info.lines == []
    assert info.outcome == "not_found"


def test_wrapped_lines_are_read_too():
    info = parse_claim_info({"lines": denied_lines()})
    assert len(info.lines) == 2


def test_it_normalises_each_lines_keys_once_not_once_per_field(monkeypatch):
    # lenient_get normalised every key of a line for each of the ~40 fields read from it.
    from revcycle import csvio

    calls = []
    real = csvio.normalise_key
    monkeypatch.setattr(csvio, "normalise_key", lambda key: calls.append(key) or real(key))
    lines = denied_lines()
    info = parse_claim_info(lines)
    keys = sum(len(line) for line in lines)
    assert len(info.lines) == 2
    # Each key of each line once, plus each name asked for (about 40 a line).
    assert len(calls) < keys + 50 * len(lines), len(calls)
