"""run_batch: a CSV run to the end in-process, the results written as the export."""

from __future__ import annotations

import csv
import io
import json

import pytest
import responses
from django.core.management import call_command

from claims.export import EXPORT_HEADER
from revcycle.models import Batch, Ticket
from tests.claims.helpers import AUTH_URL, CLAIM_URL, denied_lines, paid_object

HEADER = "Account Number,Patient First Name,Patient Last Name,Patient DOB,Member ID,DOS,Payer ID"


def _answer(request):  # responses callback: paid for even accounts, denied for odd ones
    remote_id = request.params.get("id") or json.loads(request.body)["id"]
    data = paid_object() if int(remote_id[-1]) % 2 == 0 else denied_lines()
    return 200, {}, json.dumps(data)


def _submit(request):
    body = json.loads(request.body)
    return 200, {}, json.dumps({"id": f"req-{body['trackingId1']}"})


@pytest.fixture
def integrex_fast(integrex):
    integrex.poll_interval_seconds = 1
    integrex.save(update_fields=["poll_interval_seconds"])
    return integrex


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_runs_a_csv_to_the_end_and_writes_the_export(tmp_path, integrex_fast,
                                                               capsys):
    responses.add(responses.POST, AUTH_URL, json={"access_token": "t", "expires_in": 3599})
    responses.add_callback(responses.POST, CLAIM_URL, callback=_submit)
    responses.add_callback(responses.GET, CLAIM_URL, callback=_answer)
    source = tmp_path / "claims.csv"
    source.write_text("\n".join([HEADER] + [f"A{i},JANE,DOE,1970-01-02,M{i},2026-10-01,AETNA"
                                            for i in range(6)]))
    out = tmp_path / "results.csv"
    call_command("run_batch", "claim-status", str(source), "--out", str(out), "--timeout", "60")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == EXPORT_HEADER
    assert len(rows) == 3 * 1 + 3 * 2  # paid: one line; denied: two lines
    assert {r["outcome"] for r in rows} == {"paid", "denied"}
    assert Ticket.objects.filter(state=Ticket.State.DONE).count() == 6
    err = capsys.readouterr().err
    assert "6 lookups" in err and "6 done" in err


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_exits_non_zero_when_a_row_is_invalid_or_fails(tmp_path, integrex_fast):
    responses.add(responses.POST, AUTH_URL, json={"access_token": "t", "expires_in": 3599})
    responses.add(responses.POST, CLAIM_URL, status=400, json={"error": "payer not supported"})
    source = tmp_path / "claims.csv"
    source.write_text("\n".join([HEADER, "A1,JANE,DOE,1970-01-02,M1,2026-10-01,AETNA",
                                 "A2,JOHN,ROE,not-a-date,M2,2026-10-01,AETNA"]))
    out = tmp_path / "results.csv"
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_batch", "claim-status", str(source), "--out", str(out),
                     "--timeout", "60")
    assert exit_info.value.code == 1
    batch = Batch.objects.get()
    assert batch.invalid_rows == 1
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["state"] == "failed" and rows[0]["error"] == "payer not supported"
