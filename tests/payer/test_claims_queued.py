"""A claim queued for the payer: what the form (payer.flow.create_claim) and a bulk row
(claim_for_ticket) store, the same claim never queued twice, and an identical claim already
sent found (find_duplicate) and held back with its reason."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest

from payer import flow
from payer.models import PayerClaim
from revcycle.models import Batch, Ticket
from tests.payer.helpers import BODY, queue

pytestmark = pytest.mark.django_db


def test_a_claim_from_the_form_stores_its_fields_on_the_claim_and_its_ticket(
        payer, encounter, alice):
    body = dict(BODY, patient_name="P" * 250, amount="1,250.50", priority="high")
    claim, created = flow.create_claim(reference="RC-FIELDS", facility=encounter.facility,
                                       connection=payer, encounter=encounter, body=body,
                                       user=alice)
    assert created is True
    claim.refresh_from_db()
    assert (claim.reference, claim.facility, claim.connection, claim.encounter,
            claim.created_by, claim.status) == (
        "RC-FIELDS", encounter.facility, payer, encounter, alice, "queued")
    assert (claim.account_number, claim.patient_name, claim.diagnosis_code,
            claim.procedure_code, claim.date_of_service, claim.priority, claim.amount) == (
        "ACC1001", "P" * 200, "J20.9", "99213", date(2026, 1, 5), "high", Decimal("1250.50"))
    ticket = claim.ticket
    assert (ticket.kind, ticket.facility, ticket.connection, ticket.encounter,
            ticket.created_by, ticket.request, ticket.account_number, ticket.patient_name,
            ticket.payer, ticket.state) == (
        "payer_claim", encounter.facility, payer, encounter, alice, body, "ACC1001",
        "P" * 200, "HCMS", "queued")
    assert ticket.next_poll_at is not None  # due at once
    event = claim.events.get()
    assert (event.status, event.source, event.message) == ("queued", "form",
                                                           "Queued for sending.")


def test_a_claim_without_an_account_or_optional_fields_stores_blanks(payer, st_marys, alice):
    body = {"patient_name": "JANE DOE", "insurance_id": "BC-789-456",
            "diagnosis_code": "J20.9", "amount": "10"}
    claim, created = flow.create_claim(reference="RC-BARE", facility=st_marys,
                                       connection=payer, encounter=None, body=body, user=alice)
    claim.refresh_from_db()
    assert (created, claim.account_number, claim.ticket.account_number, claim.procedure_code,
            claim.priority, claim.date_of_service, claim.encounter) == (
        True, "", "", "", "", None, None)


def test_the_same_reference_twice_returns_the_first_claim_and_queues_nothing_more(
        payer, encounter, alice):
    first = queue(payer, encounter, alice, reference="RC-TWICE")
    again, created = flow.create_claim(reference="RC-TWICE", facility=encounter.facility,
                                       connection=payer, encounter=encounter,
                                       body=dict(BODY, amount="1.00"), user=alice)
    assert (created, again.pk, again.amount) == (False, first.pk, Decimal("1250.00"))
    assert (PayerClaim.objects.count(), Ticket.objects.count(), first.events.count()) == (1, 1, 1)


def test_a_double_post_racing_past_the_reference_check_leaves_one_claim_and_one_ticket(
        payer, encounter, alice):
    """Two requests both find no claim of that reference; the second one's insert hits the
    unique reference. It answers with the first claim, and its ticket is rolled back."""
    first = queue(payer, encounter, alice, reference="RC-RACE")
    missed = mock.Mock()
    missed.first.return_value = None  # the lookup ran before the other request committed
    real_filter = PayerClaim.objects.filter

    def filter_(*args, **kwargs):
        return missed if kwargs == {"reference": "RC-RACE"} else real_filter(*args, **kwargs)

    with mock.patch.object(PayerClaim.objects, "filter", side_effect=filter_):
        claim, created = flow.create_claim(reference="RC-RACE", facility=encounter.facility,
                                           connection=payer, encounter=encounter,
                                           body=dict(BODY), user=alice)
    assert (created, claim.pk) == (False, first.pk)
    assert (PayerClaim.objects.count(), Ticket.objects.count()) == (1, 1)


# --- the same claim already sent (find_duplicate)

def test_an_identical_body_already_sent_to_the_payer_is_found_oldest_first(
        payer, encounter, alice):
    first = queue(payer, encounter, alice, reference="RC-A")
    second = queue(payer, encounter, alice, reference="RC-B")
    assert flow.find_duplicate(payer, dict(BODY)) == first
    assert flow.find_duplicate(payer, dict(BODY), besides=first.pk) == second
    assert flow.find_duplicate(payer, dict(BODY, amount="1250.01")) is None
    # Oldest by creation, not by id (ids from concurrent inserts need not follow time).
    PayerClaim.objects.filter(pk=second.pk).update(
        created_at=first.created_at - timedelta(seconds=1))
    assert flow.find_duplicate(payer, dict(BODY)) == second


def test_a_refused_claim_or_another_payers_claim_is_no_duplicate(payer, encounter, alice,
                                                                 st_marys):
    from revcycle.models import Connection

    claim = queue(payer, encounter, alice)
    other_payer = Connection.objects.create(kind="payer", name="Other payer",
                                            base_url="https://other.test/api")
    assert flow.find_duplicate(other_payer, dict(BODY)) is None
    PayerClaim.objects.filter(pk=claim.pk).update(status="error")
    assert flow.find_duplicate(payer, dict(BODY)) is None
    for status in ("queued", "sending", "unknown", "under_review", "approved", "rejected",
                   "paid"):
        PayerClaim.objects.filter(pk=claim.pk).update(status=status)
        assert flow.find_duplicate(payer, dict(BODY)) == claim, status


# --- a bulk row (claim_for_ticket, _claim_of)

def _bulk_ticket(payer, st_marys, alice, body=None, encounter=None):
    batch = Batch.objects.create(kind="payer_claim", facility=st_marys, connection=payer,
                                 created_by=alice)
    ticket = Ticket(kind="payer_claim", facility=st_marys, connection=payer, batch=batch,
                    created_by=alice, request=dict(body or BODY), account_number="ACC9",
                    patient_name="JANE DOE", encounter=encounter)
    ticket.fill_summary()
    ticket.save()
    return ticket


def test_a_bulk_row_becomes_a_claim_with_the_rows_fields_cut_to_their_columns(
        payer, st_marys, alice, encounter):
    body = dict(BODY, diagnosis_code="J20.9XXXXXXXXX", procedure_code="99213-ABCDEFG",
                priority="medium-high-urgent")
    ticket = _bulk_ticket(payer, st_marys, alice, body, encounter=encounter)
    claim = flow.claim_for_ticket(ticket)
    assert (claim.facility_id, claim.connection_id, claim.encounter_id, claim.ticket_id,
            claim.created_by_id, claim.account_number, claim.patient_name) == (
        st_marys.pk, payer.pk, encounter.pk, ticket.pk, alice.pk, "ACC9", "JANE DOE")
    assert (claim.diagnosis_code, claim.procedure_code, claim.priority, claim.date_of_service,
            claim.amount, claim.status) == (
        "J20.9XXXXX", "99213-ABCD", "medium-hig", date(2026, 1, 5), Decimal("1250.00"),
        "queued")
    event = claim.events.get()
    assert (event.status, event.source, event.message) == (
        "queued", "form", f"Queued from a bulk upload (batch {ticket.batch_id}).")


def test_a_bulk_row_without_optional_fields_or_an_amount_stores_blanks_and_zero(
        payer, st_marys, alice):
    ticket = _bulk_ticket(payer, st_marys, alice, {"patient_name": "JANE DOE"})
    claim = flow.claim_for_ticket(ticket)
    assert (claim.diagnosis_code, claim.procedure_code, claim.priority, claim.date_of_service,
            claim.amount) == ("", "", "", None, Decimal("0"))


def test_a_bulk_rows_claim_is_made_once_however_often_its_step_runs(payer, st_marys, alice):
    ticket = _bulk_ticket(payer, st_marys, alice)
    first = flow.claim_for_ticket(ticket)
    assert flow.claim_for_ticket(ticket).pk == first.pk  # the second insert is refused
    assert flow._claim_of(ticket).pk == first.pk
    assert (PayerClaim.objects.count(), first.events.count()) == (1, 1)


def test_a_bulk_row_identical_to_a_claim_sent_is_refused_with_that_claims_reference(
        payer, encounter, st_marys, alice):
    from revcycle import engine

    sent = queue(payer, encounter, alice, reference="RC-SENT")
    PayerClaim.objects.filter(pk=sent.pk).update(status="approved")
    ticket = _bulk_ticket(payer, st_marys, alice)
    step = flow.submit(ticket)  # no HTTP call is mocked: any POST would fail the test
    assert isinstance(step, engine.Done) and step.outcome == "error"
    step.store()
    held = PayerClaim.objects.get(ticket=ticket)
    said = "Not sent: identical to claim RC-SENT (Approved) already sent to this payer."
    assert (held.status, held.error_code, held.message) == ("error", "DUPLICATE_NOT_SENT", said)
    event = held.events.order_by("-id").first()
    assert (event.status, event.source, event.message) == ("error", "form", said)


def test_only_a_queued_bulk_row_is_checked_for_a_duplicate(payer, encounter, st_marys, alice):
    queue(payer, encounter, alice, reference="RC-SENT")
    ticket = _bulk_ticket(payer, st_marys, alice)
    claim = flow.claim_for_ticket(ticket)
    assert flow._duplicate_of_sent(claim, ticket) is not None
    claim.status = "sending"
    assert flow._duplicate_of_sent(claim, ticket) is None
    form_claim = PayerClaim.objects.get(reference="RC-SENT")
    # A claim from the form was checked by the form (a biller may send it anyway).
    assert flow._duplicate_of_sent(form_claim, form_claim.ticket) is None


# --- what lists show (summary, detail_url)

def test_the_list_summary_reads_the_amount_and_date_of_service(payer):
    summary = flow.summary({"amount": "1,250.00", "date_of_service": "2026-01-05"})
    assert (summary.amount, summary.service_date) == (Decimal("1250.00"), date(2026, 1, 5))
    assert (flow.summary({}).amount, flow.summary({}).service_date) == (None, None)


def test_a_tickets_detail_link_is_its_claims_page(payer, encounter, alice, st_marys):
    claim = queue(payer, encounter, alice)
    assert flow.detail_url(claim.ticket) == f"/claims/payer/{claim.pk}/"
    orphan = _bulk_ticket(payer, st_marys, alice)  # no claim made yet
    assert flow.detail_url(orphan) == ""
