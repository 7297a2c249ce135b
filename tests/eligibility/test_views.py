from unittest import mock

import pytest

from eligibility import flow
from eligibility.client import read_coverage
from revcycle.models import AuditEvent, Encounter, Ticket
from tests.conftest import POLL
from tests.eligibility.conftest import SSN, coverage, hmo_coverage

URL = "/eligibility/new/"


def form_data(facility, **overrides):
    data = {
        "facility": facility.pk, "patientFirstName": "JANE", "patientLastName": "DOE",
        "patientDob": "1970-01-02", "patientGender": "F", "patientSsn": SSN,
        "internalAccountNumber1": "ACC1001", "billingProviderNpi": "1083052872",
        "beginDos": "2026-10-01", "serviceType": "30", "payerName": "CA",
        "sub.MemberID": "W42",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def no_kick():
    with mock.patch("revcycle.engine.kick") as kick:
        yield kick


def _done_ticket(facility, connection, encounter, coverages, outcome="found"):
    ticket = flow.queue_lookup(facility=facility, connection=connection,
                                    body={**form_data(facility), "patientSsn": SSN},
                                    encounter=encounter)
    flow.store_coverages(ticket, [read_coverage(c) for c in coverages])
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome=outcome,
                                               response=coverages)
    ticket.refresh_from_db()
    return ticket


def test_posting_the_form_queues_a_ticket_with_the_documented_names(
        client_for, alice, st_marys, integrex, no_kick):
    response = client_for(alice).post(URL, form_data(st_marys))

    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{ticket.pk}/")
    assert ticket.kind == "discovery" and ticket.state == "queued"
    assert ticket.request["sub.MemberID"] == "W42"
    assert ticket.request["patientSsn"] == SSN and ticket.request["payerName"] == "CA"
    assert set(ticket.request) == set(flow.client.REQUEST_FIELDS)
    assert ticket.account_number == "ACC1001" and ticket.patient_name == "JANE DOE"
    no_kick.assert_called_once()
    assert AuditEvent.objects.filter(action="submit", object_id=str(ticket.pk)).exists()


@pytest.mark.parametrize("field, value, message", [
    ("patientSsn", "12-345-678", "An SSN is 9 digits"),
    ("billingProviderNpi", "1083052873", "fails its check digit"),
    ("billingProviderNpi", "12345", "An NPI has 10 digits"),
    ("patientDob", "2999-01-01", "in the future"),
    ("endDos", "2026-09-01", "before the first"),
    ("patientDob", "01/02/19x0", "is not a date: write yyyy-mm-dd or month/day/year"),
    ("patientGender", "X", "Select a valid choice"),
])
def test_the_form_explains_what_to_fix(client_for, alice, st_marys, integrex, field, value,
                                       message):
    response = client_for(alice).post(URL, form_data(st_marys, **{field: value}))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_facility_without_a_connection_is_explained(client_for, alice, st_marys):
    response = client_for(alice).post(URL, form_data(st_marys))

    assert "No active Integrex connection" in response.content.decode()


def test_the_form_prefills_from_an_account_without_showing_its_ssn(
        client_for, alice, st_marys, integrex, encounter):
    response = client_for(alice).get(URL, {"account": "ACC1001"})

    page = response.content.decode()
    assert 'value="ACC1001"' in page and 'value="1970-01-02"' in page
    assert 'value="1083052872"' in page
    assert SSN not in page and "123456789" not in page
    assert "***-**-6789" in page
    assert AuditEvent.objects.filter(action="view", encounter=encounter).exists()


def test_a_blank_ssn_uses_the_one_on_file_for_the_prefilled_account(
        client_for, alice, st_marys, integrex, encounter):
    client_for(alice).post(URL, form_data(st_marys, patientSsn="", encounter=encounter.pk))

    ticket = Ticket.objects.get()
    assert ticket.request["patientSsn"] == SSN and ticket.encounter == encounter


def test_the_billing_npi_defaults_to_the_facilitys(client_for, alice, st_marys, integrex):
    page = client_for(alice).get(URL).content.decode()
    assert 'value="1083052872"' in page and 'value="30"' in page


def test_the_result_page_shows_coverage_cards_and_a_masked_ssn(
        client_for, alice, st_marys, integrex, encounter):
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage(), hmo_coverage()])

    response = client_for(alice).get(f"/eligibility/lookups/{ticket.pk}/")

    page = response.content.decode()
    assert page.count("data-coverage=") == 2
    assert "AETNA" in page and "UNITEDHEALTHCARE" in page and "NGUYEN" in page
    assert "W900112233" in page and "GRP55501" in page and "$1,250.50 / $3,000.00" in page
    assert "***-**-6789" in page and SSN not in page and "123456789" not in page
    assert "Raw answer" not in page  # billers never see the raw JSON
    assert AuditEvent.objects.filter(action="view", object_id=str(ticket.pk)).exists()


def test_admins_see_the_raw_answer(client_for, ada, st_marys, integrex, encounter):
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage()])

    page = client_for(ada).get(f"/eligibility/lookups/{ticket.pk}/").content.decode()

    assert "Raw answer" in page and "IX1234567" in page


def test_none_found_is_shown_as_its_own_result(client_for, alice, st_marys, integrex):
    ticket = _done_ticket(st_marys, integrex, None, [], outcome="none_found")

    page = client_for(alice).get(f"/eligibility/lookups/{ticket.pk}/").content.decode()

    assert "No coverage found" in page and "data-coverage=" not in page


def test_a_failed_lookup_shows_the_servers_message(client_for, alice, st_marys, integrex):
    ticket = _done_ticket(st_marys, integrex, None, [], outcome="error")
    Ticket.objects.filter(pk=ticket.pk).update(state="failed",
                                               last_error="patientDob is not a valid date")

    page = client_for(alice).get(f"/eligibility/lookups/{ticket.pk}/").content.decode()

    assert "patientDob is not a valid date" in page


def test_another_facilitys_lookup_is_404(client_for, bob, st_marys, integrex, encounter):
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage()])

    assert client_for(bob).get(f"/eligibility/lookups/{ticket.pk}/").status_code == 404
    coverage_pk = ticket.coverages.get().pk
    assert client_for(bob).post(f"/eligibility/coverages/{coverage_pk}/apply/").status_code == 404


def test_the_polling_fragment_carries_no_identifiers_and_stops_when_done(
        client_for, alice, st_marys, integrex, encounter):
    ticket = flow.queue_lookup(facility=st_marys, connection=integrex,
                                    body=form_data(st_marys), encounter=encounter)
    c = client_for(alice)
    url = f"/eligibility/lookups/{ticket.pk}/"

    pending = c.get(url, **POLL)
    assert 'hx-trigger="every 2s"' in pending.content.decode()
    assert "JANE" not in pending.content.decode()
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome="none_found")
    done = c.get(url, **POLL)
    assert done.status_code == 286 and done["HX-Refresh"] == "true"


def test_using_a_coverage_updates_the_encounter_and_audits(
        client_for, alice, st_marys, integrex, encounter):
    Encounter.objects.filter(pk=encounter.pk).update(payer_id="", payer_name="", subscriber_id="")
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage(), hmo_coverage()])
    chosen = ticket.coverages.get(position=1)

    response = client_for(alice).post(f"/eligibility/coverages/{chosen.pk}/apply/", follow=True)

    encounter.refresh_from_db()
    assert (encounter.payer_id, encounter.payer_name, encounter.subscriber_id) == (
        "87726", "UNITEDHEALTHCARE", "HM550066077")
    assert encounter.patient_ssn == SSN  # untouched
    chosen.refresh_from_db()
    assert chosen.applied_by == alice and chosen.applied_at
    event = AuditEvent.objects.get(action="change", encounter=encounter)
    assert str(chosen.pk) in event.detail and "HM550066077" not in event.detail
    page = response.content.decode()
    assert "/claims/status/new/?account=ACC1001" in page


def test_using_a_coverage_is_a_post(client_for, alice, st_marys, integrex, encounter):
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage()])
    pk = ticket.coverages.get().pk
    assert client_for(alice).get(f"/eligibility/coverages/{pk}/apply/").status_code == 405


def test_an_error_after_search_again_does_not_show_the_old_cards(
        client_for, alice, st_marys, integrex, encounter):
    ticket = _done_ticket(st_marys, integrex, encounter, [coverage()])
    Ticket.objects.filter(pk=ticket.pk).update(state="failed", outcome="error",
                                               last_error="Integrex had an error (500)")

    page = client_for(alice).get(f"/eligibility/lookups/{ticket.pk}/").content.decode()

    assert "data-coverage=" not in page and "Integrex had an error (500)" in page
