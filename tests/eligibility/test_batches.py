import csv
import io
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from eligibility import flow
from eligibility.batch import SPEC
from eligibility.client import read_coverage
from revcycle.batches import create_batch, get_spec
from revcycle.models import AuditEvent, Batch, Ticket
from tests.eligibility.conftest import DISCOVERY_URL, SSN, coverage, hmo_coverage

CSV = """patientFirstName,patientLastName,patientDob,patientGender,SSN,beginDos,Region,Account
JANE,DOE,1970-01-02,F,123-45-6789,2026-10-01,CA,ACC1001
JOHN,ROE,1980-05-06,M,,2026-10-02,CA,ACC1002
BAD,DATE,1980-13-06,M,,2026-10-02,CA,ACC1003
NO,SSN,1980-05-06,M,12-3,2026-10-02,CA,ACC1004
JANE,DOE,1970-01-02,F,123-45-6789,2026-10-01,CA,ACC1001
"""


@pytest.fixture(autouse=True)
def no_kick():
    with mock.patch("revcycle.engine.kick"):
        yield


def test_the_discovery_spec_is_registered_under_its_cli_name():
    assert get_spec("discovery") is SPEC and SPEC.kind == "discovery"


def test_a_csv_becomes_tickets_with_row_errors_and_the_facility_npi(st_marys, integrex):
    batch = create_batch(SPEC, facility=st_marys, connection=integrex, user=None,
                         filename="selfpay.csv", text=CSV)

    assert (batch.total_rows, batch.ticket_count, batch.invalid_rows, batch.duplicate_rows) == (
        5, 2, 2, 1)
    first = Ticket.objects.filter(batch=batch).order_by("id").first()
    assert first.request["billingProviderNpi"] == st_marys.npi
    assert first.request["serviceType"] == "30" and first.request["payerName"] == "CA"
    assert first.request["patientSsn"] == SSN and "sub.MemberID" in first.request
    messages = list(batch.row_errors.values_list("message", flat=True))
    assert any(m.startswith("patientDob:") for m in messages)
    assert any("An SSN is 9 digits" in m for m in messages)


def test_uploading_through_the_shared_page_queues_the_batch(client_for, alice, st_marys,
                                                          integrex):
    upload = SimpleUploadedFile("selfpay.csv", CSV.encode(), content_type="text/csv")

    response = client_for(alice).post("/eligibility/batches/upload/", {
        "file": upload, "facility": st_marys.pk, "connection": integrex.pk})

    batch = Batch.objects.get()
    assert response.status_code == 302 and batch.kind == "discovery"
    detail = client_for(alice).get(f"/eligibility/batches/{batch.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in detail and "ACC1002" in detail


def _found(st_marys, integrex, encounter=None):
    ticket = flow.queue_lookup(facility=st_marys, connection=integrex, encounter=encounter,
                                    body={"patientFirstName": "JANE", "patientLastName": "DOE",
                                          "patientSsn": SSN, "internalAccountNumber1": "ACC1001"})
    flow.store_coverages(ticket, [read_coverage(coverage()), read_coverage(hmo_coverage())])
    Ticket.objects.filter(pk=ticket.pk).update(state="done", outcome="found")
    return ticket


def _rows(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_worklist_filters_by_outcome_and_payer(client_for, alice, st_marys, integrex):
    found = _found(st_marys, integrex)
    none = flow.queue_lookup(facility=st_marys, connection=integrex,
                                  body={"patientFirstName": "JOHN", "patientLastName": "ROE",
                                        "internalAccountNumber1": "ACC2002"})
    Ticket.objects.filter(pk=none.pk).update(state="done", outcome="none_found")
    c = client_for(alice)

    assert found.pk != none.pk
    page = c.get("/eligibility/", {"outcome": "none_found"}).content.decode()
    assert "ACC2002" in page and "ACC1001" not in page
    page = c.get("/eligibility/", {"payer": "unitedhealth"}).content.decode()
    assert "ACC1001" in page and "ACC2002" not in page
    page = c.get("/eligibility/", {"payer": "87726"}).content.decode()
    assert "ACC1001" in page and "ACC2002" not in page


def test_a_billers_export_masks_the_ssn_and_is_audited(client_for, alice, st_marys, integrex):
    _found(st_marys, integrex)

    rows = _rows(client_for(alice).get("/eligibility/export.csv"))

    assert rows[0] == flow.EXPORT_HEADER and len(rows) == 3
    ssn = rows[0].index("patientSsn")
    assert rows[1][ssn] == "***-**-6789"
    assert SSN not in repr(rows)
    event = AuditEvent.objects.get(action="export")
    assert "ssn=masked" in event.detail


def test_a_managers_export_carries_the_ssn_in_full(client_for, maya, st_marys, integrex):
    _found(st_marys, integrex)

    rows = _rows(client_for(maya).get("/eligibility/export.csv"))

    assert rows[1][rows[0].index("patientSsn")] == SSN
    assert "ssn=full" in AuditEvent.objects.get(action="export").detail


def test_the_batch_export_masks_the_ssn_for_everyone(client_for, maya, st_marys, integrex):
    batch = create_batch(SPEC, facility=st_marys, connection=integrex, user=maya,
                         filename="selfpay.csv", text=CSV)

    rows = _rows(client_for(maya).get(f"/eligibility/batches/{batch.pk}/export.csv"))

    assert rows[0] == flow.EXPORT_HEADER and len(rows) == 3
    assert SSN not in repr(rows) and "***-**-6789" in repr(rows)


@pytest.mark.django_db(transaction=True)
def test_run_batch_discovery_writes_one_row_per_coverage(mocked, st_marys, integrex, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("patientFirstName,patientLastName,patientDob,beginDos,internalAccountNumber1\n"
                   "JANE,DOE,1970-01-02,2026-10-01,ACC1001\n"
                   "JOHN,ROE,1980-05-06,2026-10-02,ACC1008\n")
    integrex.poll_interval_seconds = 1
    integrex.save()
    mocked.post(DISCOVERY_URL, json={"id": "r-1"})
    mocked.post(DISCOVERY_URL, json={"id": "r-2"})
    answers = {"r-1": [coverage(), hmo_coverage()], "r-2": []}

    def answer(request):
        import json
        return 200, {}, json.dumps(answers[json.loads(request.body)["id"]])

    mocked.add_callback("GET", DISCOVERY_URL, callback=answer)
    out = tmp_path / "out.csv"

    call_command("run_batch", "discovery", str(src), "--out", str(out), "--timeout", "30")

    rows = list(csv.reader(out.open()))
    outcome = rows[0].index("outcome")
    assert sorted(r[outcome] for r in rows[1:]) == ["found", "found", "none_found"]
