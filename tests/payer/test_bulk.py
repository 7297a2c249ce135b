"""Bulk payer claims: a CSV through the shared batch pages, each row checked like the
form, duplicates held back, progress shown, and the payer's answers exported."""

from __future__ import annotations

import csv
import io
from unittest import mock

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile

from payer.models import PayerClaim
from revcycle.models import Batch, Ticket
from tests.payer.helpers import APPROVED, BASE, NOT_FOUND

pytestmark = pytest.mark.django_db

CSV = """patient_name,insurance_id,diagnosis_code,amount,procedure_code,date_of_service,patient_id
JANE DOE,BC-789-456,J20.9,1250.00,99213,2026-01-05,ACC1001
JOHN ROE,BC-123-456,E11,300.00,99213,2026-01-05,ACC1002
JOHN ROE,BC-123-456,I10,300.00,99999,2026-01-05,ACC1002
JOHN ROE,BC-123-456,I10,300.00,99999,2026-01-05,ACC1002
AMY POE,BC-999-999,N39.0,90.00,,2026-01-05,ACC1003
"""


def _upload(client, st_marys, payer, text: str = CSV):
    with mock.patch("revcycle.batch_views.engine.kick"):
        return client.post("/claims/payer/batches/upload/", {
            "file": SimpleUploadedFile("claims.csv", text.encode(), content_type="text/csv"),
            "facility": st_marys.pk, "connection": payer.pk})


def _run_all(batch: Batch) -> None:
    """One engine round over the batch's due tickets, as the pump runs them."""
    from revcycle import engine

    owner = engine.new_owner()
    for ticket_id in sorted(engine.claim_due(owner, 50)):
        engine.run_step(ticket_id, owner)


def test_a_csv_of_claims_is_checked_row_by_row_and_queued_once_per_distinct_row(
        client_for, alice, st_marys, payer):
    response = _upload(client_for(alice), st_marys, payer)
    batch = Batch.objects.get()
    assert response.status_code == 302
    assert (batch.total_rows, batch.ticket_count, batch.invalid_rows, batch.duplicate_rows) == (
        5, 3, 1, 1)
    error = batch.row_errors.get()
    assert error.line_number == 3 and "not a billable code" in error.message
    assert Ticket.objects.filter(batch=batch, kind="payer_claim").count() == 3


def test_the_rows_are_sent_and_the_answers_exported(client_for, alice, st_marys, payer):
    client = client_for(alice)
    _upload(client, st_marys, payer)
    batch = Batch.objects.get()
    with responses.RequestsMock() as mock_payer:
        mock_payer.post(f"{BASE}/claims/", json=APPROVED, status=201)
        mock_payer.post(f"{BASE}/claims/", json=dict(
            APPROVED, claim=dict(APPROVED["claim"], claim_id="CLM-2")), status=201)
        mock_payer.post(f"{BASE}/claims/", json=NOT_FOUND, status=404)
        _run_all(batch)
        assert len(mock_payer.calls) == 3
    statuses = sorted(PayerClaim.objects.values_list("status", flat=True))
    assert statuses == ["approved", "approved", "error"]
    page = client.get(f"/claims/payer/batches/{batch.pk}/").content.decode()
    assert "Approved" in page and "Refused (error)" in page
    export = client.get(f"/claims/payer/batches/{batch.pk}/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert sorted(r["status"] for r in rows) == ["approved", "approved", "error"]
    refused = next(r for r in rows if r["status"] == "error")
    assert (refused["error_code"], refused["http_status"]) == ("INSURANCE_NOT_FOUND", "404")
    assert {r["expected_payment"] for r in rows if r["status"] == "approved"} == {"1000.00"}


def test_a_row_identical_to_a_claim_already_sent_is_not_sent_again(
        client_for, alice, st_marys, payer):
    one_row = "\n".join(CSV.splitlines()[:2]) + "\n"
    client = client_for(alice)
    _upload(client, st_marys, payer, one_row)
    with responses.RequestsMock() as mock_payer:
        mock_payer.post(f"{BASE}/claims/", json=APPROVED, status=201)
        _run_all(Batch.objects.get())
    _upload(client, st_marys, payer, one_row)  # the same file again
    batch = Batch.objects.latest("id")
    assert batch.ticket_count == 1
    with responses.RequestsMock():  # no call may reach the payer
        _run_all(batch)
    held = PayerClaim.objects.get(ticket__batch=batch)
    assert (held.status, held.error_code) == ("error", "DUPLICATE_NOT_SENT")
    assert "already sent" in held.message


def test_the_batch_page_polls_its_progress(client_for, alice, st_marys, payer):
    client = client_for(alice)
    _upload(client, st_marys, payer)
    batch = Batch.objects.get()
    page = client.get(f"/claims/payer/batches/{batch.pk}/").content.decode()
    assert "hx-trigger" in page and "every" in page
    # The legend's counts, read from their own elements ("/3" in any URL used to pass).
    assert '<b data-count="queued">3</b> queued' in page
    assert 'of <b data-count="total">3</b>' in page
    assert '<b data-count="done">0</b> done' in page
