"""run_batch: a CSV run to the end in-process, the results written as the export."""

from __future__ import annotations

import csv
import io
import json

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from claims.export import EXPORT_HEADER
from revcycle.models import Batch, Connection, Ticket
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
                                                               capsys, settings):
    settings.UPLOAD_BACKGROUND_BYTES = 10  # a large file too: run_batch reads in-process
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
    # A claim row per lookup, then its lines: paid has one line, denied two.
    assert len(rows) == 6 + 3 * 1 + 3 * 2
    assert sum(r["rowType"] == "claim" for r in rows) == 6
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


def _one_row_csv(tmp_path):
    source = tmp_path / "claims.csv"
    source.write_text("\n".join([HEADER, "A1,JANE,DOE,1970-01-02,M1,2026-10-01,AETNA",
                                 "A2,JOHN,ROE,1970-01-03,M2,2026-10-01,AETNA"]))
    return source


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_stops_with_the_reason_when_the_token_is_refused(tmp_path, integrex_fast,
                                                                   capsys):
    responses.add(responses.POST, AUTH_URL, status=401, json={"error": "invalid_client"})
    out = tmp_path / "results.csv"
    # The timeout is only a safety net: the run must stop on the hold, long before it.
    with pytest.raises(CommandError, match="Integrex Health refused our credentials: check "
                                           "the client id and secret"):
        call_command("run_batch", "claim-status", str(_one_row_csv(tmp_path)), "--out",
                     str(out), "--timeout", "120")
    assert not any(call.request.url == CLAIM_URL for call in responses.calls)
    assert Ticket.objects.open().count() == 2  # held, not failed: they run once cleared
    assert out.exists()
    assert "0 done" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_stops_with_the_reason_when_a_request_gets_402(tmp_path, integrex_fast):
    responses.add(responses.POST, AUTH_URL, json={"access_token": "t", "expires_in": 3599})
    responses.add(responses.POST, CLAIM_URL, status=402, json={"message": "IP not allowed"})
    with pytest.raises(CommandError, match="refused our credentials") as caught:
        call_command("run_batch", "claim-status", str(_one_row_csv(tmp_path)), "--out",
                     str(tmp_path / "results.csv"), "--timeout", "120")
    assert "IP not allowed" in str(caught.value)
    assert Connection.objects.get(pk=integrex_fast.pk).flagged_at is not None


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_stops_when_an_admin_puts_the_connection_on_hold(tmp_path, integrex_fast):
    def hold_then_accept(request):  # the admin's hold lands while the first POST is out
        Connection.objects.filter(pk=integrex_fast.pk).update(
            flagged_at=timezone.now(), flagged_reason="held by the admin for maintenance")
        return _submit(request)

    responses.add(responses.POST, AUTH_URL, json={"access_token": "t", "expires_in": 3599})
    responses.add_callback(responses.POST, CLAIM_URL, callback=hold_then_accept)
    with pytest.raises(CommandError, match="held by the admin for maintenance"):
        call_command("run_batch", "claim-status", str(_one_row_csv(tmp_path)), "--out",
                     str(tmp_path / "results.csv"), "--timeout", "120")
    assert not any(call.request.method == "GET" for call in responses.calls)


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_run_batch_stops_when_the_connection_is_deactivated(tmp_path, integrex_fast):
    def deactivate_then_accept(request):
        Connection.objects.filter(pk=integrex_fast.pk).update(active=False)
        return _submit(request)

    responses.add(responses.POST, AUTH_URL, json={"access_token": "t", "expires_in": 3599})
    responses.add_callback(responses.POST, CLAIM_URL, callback=deactivate_then_accept)
    with pytest.raises(CommandError, match="deactivated"):
        call_command("run_batch", "claim-status", str(_one_row_csv(tmp_path)), "--out",
                     str(tmp_path / "results.csv"), "--timeout", "120")
