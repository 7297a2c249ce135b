import json
from decimal import Decimal

import pytest
from responses import matchers

from eligibility import client
from revcycle import errors
from tests.eligibility.conftest import DISCOVERY_URL, SSN, coverage, hmo_coverage, request_body

GARBLED = {
    "oop($)IndivInNetworkRemaining": "oop($) IndivInNetworkRemain ing",
    "ded($)FamilyOutOfNetworkRemaining": "ded($)\\FamilyOutOfNetworkR emaining",
    "coins(%)InNetwork": "coins(%)\\InNetwork",
    "copay($)Specialist": "copay(\\$)\\Specialist",
    "oop($)IndivOutOfNetwork": "oop(\\$)\\IndivOutOfNetwork",
}


def test_it_posts_every_documented_name_and_returns_the_id(mocked, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "9326db0d"})
    body = request_body(**{"sub.MemberID": "W1"})

    assert client.submit_discovery(integrex, body) == "9326db0d"

    sent = mocked.calls[-1].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["env"] == "T"
    assert json.loads(sent.body) == body
    assert set(json.loads(sent.body)) == set(client.REQUEST_FIELDS)
    assert json.loads(sent.body)["sub.MemberID"] == "W1"


def test_it_sends_the_id_both_as_query_parameter_and_json_body_on_get(mocked, integrex):
    mocked.get(DISCOVERY_URL, json=[coverage()],
               match=[matchers.query_param_matcher({"id": "abc-1"}),
                      matchers.json_params_matcher({"id": "abc-1"})])

    answer = client.fetch_discovery(integrex, "abc-1")

    assert answer.ready and len(answer.coverages) == 1


def test_a_202_means_keep_polling(mocked, integrex):
    mocked.get(DISCOVERY_URL, status=202, json={"id": "abc-1", "status": "processing"})

    answer = client.fetch_discovery(integrex, "abc-1")

    assert not answer.ready and answer.http_status == 202


def test_it_reads_garbled_key_spellings_leniently():
    raw = {GARBLED.get(k, k): v for k, v in coverage().items()}

    data = client.read_coverage(raw)

    assert data.amounts["oop_indiv_in_remaining"] == Decimal("1250.50")
    assert data.amounts["ded_family_out_remaining"] == Decimal("6000.00")
    assert data.amounts["coins_in_network"] == Decimal("20.00")
    assert data.amounts["copay_specialist"] == Decimal("50.00")
    assert data.amounts["oop_indiv_out"] == Decimal("6000.00")
    assert data.raw is raw


def test_empty_and_null_amounts_become_none_and_dates_are_typed():
    data = client.read_coverage(coverage())

    assert data.amounts["oop_family_in_remaining"] is None  # "null"
    assert data.amounts["oop_family_out"] is None  # ""
    assert data.amounts["copay_office"] == Decimal("25.00")
    assert str(data.dates["coverage_start_date"]) == "2024-01-01"
    assert data.dates["coverage_end_date"] is None
    assert data.text["member_id"] == "W900112233"
    assert data.payer_tpa is False


def test_several_coverages_come_back_in_order(mocked, integrex):
    mocked.get(DISCOVERY_URL, json=[coverage(), hmo_coverage()])

    answer = client.fetch_discovery(integrex, "abc-1")

    assert [c.text["payer_name1"] for c in answer.coverages] == ["AETNA", "UNITEDHEALTHCARE"]
    assert answer.coverages[1].text["pcp_npi"] == "1245319599"


@pytest.mark.parametrize("data, count", [
    ([], 0), ({}, 0), (None, 0), ({"coverages": []}, 0),
    ({"coverages": [coverage()]}, 1), (coverage(), 1),
])
def test_it_accepts_a_list_one_object_or_a_wrapped_list(data, count):
    assert len(client.coverage_list(data)) == count


def test_an_answer_that_is_not_a_discovery_result_is_an_error(mocked, integrex):
    mocked.get(DISCOVERY_URL, json={"message": "Ticket not known"})

    answer = client.fetch_discovery(integrex, "abc-1")

    assert answer.error == "Ticket not known"


def test_a_400_raises_bad_request_with_the_server_message(mocked, integrex):
    mocked.post(DISCOVERY_URL, status=400, json={"message": "patientDob is not a valid date"})

    with pytest.raises(errors.BadRequest) as caught:
        client.submit_discovery(integrex, request_body())

    assert caught.value.message == "patientDob is not a valid date"


def test_a_post_without_an_id_is_a_bad_response(mocked, integrex):
    mocked.post(DISCOVERY_URL, json={"status": "ok"})

    with pytest.raises(errors.BadResponse):
        client.submit_discovery(integrex, request_body())


def test_the_ssn_is_not_logged_when_the_request_is_sent(mocked, integrex, caplog):
    caplog.set_level("DEBUG")
    mocked.post(DISCOVERY_URL, json={"id": "x"})

    client.submit_discovery(integrex, request_body())

    assert SSN not in caplog.text and "123456789" not in caplog.text
