import logging

from django.db import connection as db

from eligibility import flow
from eligibility.models import Coverage
from revcycle import engine
from revcycle.models import Ticket
from tests.eligibility.conftest import (
    DISCOVERY_URL,
    SSN,
    coverage,
    drive,
    hmo_coverage,
    request_body,
)


def _queue(st_marys, integrex, encounter=None, **body):
    return flow.queue_lookup(facility=st_marys, connection=integrex,
                                  body=request_body(**body), encounter=encounter)


def test_the_discovery_kind_polls_every_15_seconds():
    kind = engine.KINDS["discovery"]
    assert kind.default_interval == 15 and kind.service == "integrex"


def test_several_coverages_are_stored_as_typed_rows_with_their_raw_json(
        mocked, st_marys, integrex, encounter):
    mocked.post(DISCOVERY_URL, json={"id": "r-1"})
    mocked.get(DISCOVERY_URL, status=202, json={})
    mocked.get(DISCOVERY_URL, json=[coverage(), hmo_coverage()])

    ticket = drive(_queue(st_marys, integrex))

    assert ticket.state == "done" and ticket.outcome == "found"
    assert ticket.polls == 2 and ticket.remote_id == "r-1"
    assert ticket.encounter == encounter  # found by internalAccountNumber1
    rows = list(ticket.coverages.all())
    assert [c.payer_name1 for c in rows] == ["AETNA", "UNITEDHEALTHCARE"]
    assert str(rows[0].oop_indiv_in_remaining) == "1250.50"
    assert rows[0].raw["sub.MemberID"] == "W900112233"
    assert ticket.response[1]["integrexId"] == "IX7654321"


def test_nan_and_infinite_amounts_are_stored_as_missing_and_done_on_the_first_try(
        mocked, st_marys, integrex):
    # The same hole as claim status: Decimal("NaN") parses, the DecimalField refuses it.
    mocked.post(DISCOVERY_URL, json={"id": "r-nan"})
    mocked.get(DISCOVERY_URL, json=[coverage(**{
        "oop($)IndivInNetwork": "NaN", "oop($)IndivInNetworkRemaining": "Infinity",
        "ded($)FamilyOutOfNetwork": "-Infinity", "copay($)Specialist": "$40.00"})])

    ticket = drive(_queue(st_marys, integrex))

    assert (ticket.state, ticket.outcome, ticket.last_error) == ("done", "found", "")
    assert ticket.attempts == 1
    row = ticket.coverages.get()
    assert row.oop_indiv_in is None and row.oop_indiv_in_remaining is None
    assert row.ded_family_out is None
    assert str(row.copay_specialist) == "40.00"


def test_an_empty_list_is_none_found_not_an_error(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-2"})
    mocked.get(DISCOVERY_URL, json=[])

    ticket = drive(_queue(st_marys, integrex))

    assert (ticket.state, ticket.outcome, ticket.last_error) == ("done", "none_found", "")
    assert not ticket.coverages.exists()


def test_a_400_fails_the_ticket_with_the_servers_message(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, status=400, json={"message": "billingProviderNpi is required"})

    ticket = drive(_queue(st_marys, integrex))

    assert (ticket.state, ticket.outcome) == ("failed", "error")
    assert ticket.last_error == "billingProviderNpi is required"


def test_storing_twice_replaces_the_coverages(st_marys, integrex):
    from eligibility.client import read_coverage

    ticket = _queue(st_marys, integrex)
    flow.store_coverages(ticket, [read_coverage(coverage()), read_coverage(hmo_coverage())])
    flow.store_coverages(ticket, [read_coverage(coverage())])

    assert Coverage.objects.filter(ticket=ticket).count() == 1


def test_the_ssn_is_never_in_plain_text_in_the_database(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-3"})
    mocked.get(DISCOVERY_URL, json=[coverage(patientSsn=SSN)])  # even if echoed back
    ticket = drive(_queue(st_marys, integrex, subscriberSsn="987-65-4321"))
    assert ticket.outcome == "found"

    for table in ("revcycle_ticket", "eligibility_coverage"):
        with db.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
        for needle in (SSN, "123456789", "987-65-4321", "987654321"):
            assert needle not in dump, (table, needle)


def test_the_ssn_is_never_written_to_the_logs(mocked, st_marys, integrex, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.post(DISCOVERY_URL, json={"id": "r-4"})
    mocked.get(DISCOVERY_URL, status=500, json={"message": f"bad ssn {SSN}"})
    mocked.get(DISCOVERY_URL, json=[coverage()])

    ticket = drive(_queue(st_marys, integrex))

    assert ticket.outcome == "found"
    assert caplog.records
    assert SSN not in caplog.text and "123456789" not in caplog.text


def test_a_request_without_the_member_id_still_sends_the_key(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-5"})
    mocked.get(DISCOVERY_URL, json=[])

    drive(_queue(st_marys, integrex))

    import json

    sent = json.loads(mocked.calls[1].request.body)
    assert "sub.MemberID" in sent and sent["serviceType"] == "30"


def test_export_rows_give_one_row_per_coverage_and_mask_the_ssn(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, json={"id": "r-6"})
    mocked.get(DISCOVERY_URL, json=[coverage(), hmo_coverage()])
    found = drive(_queue(st_marys, integrex))
    empty = Ticket.objects.get(pk=_queue(st_marys, integrex, internalAccountNumber1="X8").pk)

    rows = list(flow.export_rows([found, empty]))

    assert len(rows) == 3
    assert all(len(r) == len(flow.EXPORT_HEADER) for r in rows)
    ssn_col = flow.EXPORT_HEADER.index("patientSsn")
    assert {r[ssn_col] for r in rows} == {"***-**-6789"}
    member = flow.EXPORT_HEADER.index("sub.MemberID")
    assert [r[member] for r in rows[:2]] == ["W900112233", "HM550066077"]
    full = list(flow.export_rows([found], full_ssn=True))
    assert full[0][ssn_col] == SSN


def test_only_managers_and_admins_export_the_full_ssn(alice, maya, ada):
    assert not flow.can_export_full_ssn(alice)
    assert flow.can_export_full_ssn(maya) and flow.can_export_full_ssn(ada)


def test_an_ssn_echoed_in_an_error_message_is_masked(mocked, st_marys, integrex):
    mocked.post(DISCOVERY_URL, status=400, json={"message": f"patientSsn {SSN} is not valid"})

    ticket = drive(_queue(st_marys, integrex))

    assert ticket.state == "failed"
    assert SSN not in ticket.last_error and "is not valid" in ticket.last_error
