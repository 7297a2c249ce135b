"""A large upload is read by a worker (issue 14, #4): the request stores the file encrypted
and queues a task holding only the batch id; the task reads the rows exactly as a request
reads a small file, records its progress, and leaves neither the file nor duplicates
behind, whether it ends, fails or is killed and delivered again."""

from __future__ import annotations

import csv
import io
from typing import Any
from unittest import mock

import pytest
from django.db import connection as db
from django_q.models import OrmQ

from revcycle import batches, stored_uploads, tasks
from revcycle.batches import BatchSpec, create_batch, get_spec, start_reading
from revcycle.models import AuditEvent, Batch, BatchRowError, Ticket, UploadChunk

URL = "/claims/status/batches/upload/"
HEADER = "patientFirstName,patientLastName,patientDob,subscriberId,admitDate,payerId\n"


@pytest.fixture(autouse=True)
def no_kick() -> Any:
    with mock.patch("revcycle.engine.kick"):
        yield


@pytest.fixture
def small_threshold(settings: Any) -> Any:
    settings.UPLOAD_BACKGROUND_BYTES = 1000
    return settings


def _claims(rows: int, *, name: str = "DOE") -> bytes:
    return (HEADER + "".join(f"JANE,{name}{i},1970-01-02,A{i},2026-10-01,AETNA\n"
                             for i in range(rows))).encode()


def _file_for(spec: BatchSpec, rows: int) -> bytes:
    """The spec's example row with a new account number each time, then a duplicate of the
    first row and a row with every required column blank (a row error)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=spec.template_header())
    writer.writeheader()
    for i in range(rows):
        writer.writerow(spec.example_row | {spec.account_field: f"ACC{i:05d}"})
    writer.writerow(spec.example_row | {spec.account_field: "ACC00000"})
    writer.writerow(spec.example_row | {c.name: "" for c in spec.columns if c.required})
    return out.getvalue().encode()


def _post(client: Any, st_marys: Any, integrex: Any, body: bytes, name: str = "big.csv") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, body, content_type="text/csv")
    return client.post(URL, {"file": upload, "facility": st_marys.pk,
                             "connection": integrex.pk})


def _snapshot(batch: Batch) -> dict[str, Any]:
    batch.refresh_from_db()
    tickets = batch.tickets.order_by("id")
    return {
        "counts": (batch.total_rows, batch.ticket_count, batch.invalid_rows,
                   batch.duplicate_rows, batch.rows_read),
        "tickets": [(t.kind, t.account_number, t.patient_name, t.payer, t.request,
                     t.request_hash, t.encounter_id, t.created_by_id, t.state)
                    for t in tickets],
        "errors": [(e.line_number, e.message, e.raw) for e in batch.row_errors.all()],
    }


def test_a_large_file_is_not_read_in_the_request_and_queues_one_task_with_only_the_id(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client_for(alice), st_marys, integrex, _claims(50))

    batch = Batch.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/batches/{batch.pk}/")
    assert batch.state == Batch.State.READING and batch.rows_read == 0
    assert Ticket.objects.count() == 0 and BatchRowError.objects.count() == 0
    queued = OrmQ.objects.get()
    assert queued.task["func"] == "revcycle.tasks.read_batch"
    assert queued.task["args"] == (batch.pk,) and queued.task["kwargs"] == {}
    assert "DOE" not in repr(queued.task)
    submit = AuditEvent.objects.get(action="submit")
    assert submit.username == "alice" and submit.object_id == str(batch.pk)


def test_a_small_file_is_still_read_in_the_request(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    body = _claims(3)
    small_threshold.UPLOAD_BACKGROUND_BYTES = len(body)

    with django_capture_on_commit_callbacks(execute=True):
        _post(client_for(alice), st_marys, integrex, body)

    assert Batch.objects.get().state == Batch.State.READ and Ticket.objects.count() == 3
    assert OrmQ.objects.count() == 0 and UploadChunk.objects.count() == 0


@pytest.mark.parametrize("kind", ["claim-status", "discovery", "payer-claims"])
def test_the_worker_creates_the_same_rows_as_the_request_for_the_same_file(
        kind: str, st_marys: Any, integrex: Any, payer: Any, alice: Any) -> None:
    spec = get_spec(kind)
    conn = payer if spec.service == "payer" else integrex
    body = _file_for(spec, 30)
    where = {"facility": st_marys, "connection": conn, "user": alice, "filename": "f.csv"}

    in_request = create_batch(spec, upload=io.BytesIO(body), **where)
    by_worker = start_reading(spec, upload=io.BytesIO(body), **where)
    assert by_worker.tickets.count() == 0
    assert tasks.read_batch(by_worker.pk) == "read"

    expected = _snapshot(in_request)
    assert expected["counts"] == (32, 30, 1, 1, 32)
    assert _snapshot(by_worker) == expected
    assert by_worker.state == Batch.State.READ


def test_the_worker_reads_a_workbook_and_its_named_sheet(st_marys: Any, integrex: Any,
                                                         alice: Any) -> None:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("Notes").write_row(0, 0, ["nothing here"])
    sheet = book.add_worksheet("Claims")
    for r, line in enumerate(_claims(4).decode().splitlines()):
        sheet.write_row(r, 0, line.split(","))
    book.close()
    spec = get_spec("claim-status")

    batch = start_reading(spec, facility=st_marys, connection=integrex, user=alice,
                          filename="f.xlsx", upload=io.BytesIO(buffer.getvalue()),
                          sheet="Claims")
    tasks.read_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.state, batch.ticket_count) == (Batch.State.READ, 4)
    assert sorted(batch.tickets.values_list("patient_name", flat=True)) == [
        "JANE DOE0", "JANE DOE1", "JANE DOE2", "JANE DOE3"]


def test_the_stored_file_is_ciphertext_and_gone_once_read(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    header = "patientFirstName,patientLastName,patientDob,patientSsn,beginDos\n"
    body = (header + "".join(f"ZELDA,QUIXOTIC{i},1970-01-02,123-45-{6789 - i},2026-10-01\n"
                             for i in range(40))).encode()
    client = client_for(alice)
    upload = io.BytesIO(body)
    upload.name = "patients.csv"

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/eligibility/batches/upload/", {
            "file": upload, "facility": st_marys.pk, "connection": integrex.pk})

    batch = Batch.objects.get()
    with db.cursor() as cursor:
        cursor.execute("SELECT data FROM revcycle_uploadchunk WHERE batch_id = %s", [batch.pk])
        stored = b"".join(bytes(row[0]) for row in cursor.fetchall())
    assert len(stored) > len(body)
    for secret in (b"QUIXOTIC", b"123-45-6789", b"123456789", b"ZELDA"):
        assert secret not in stored

    tasks.read_batch(batch.pk)

    assert UploadChunk.objects.count() == 0
    assert batch.tickets.count() == 40


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no except catches it."""


def test_a_worker_killed_while_saving_leaves_nothing_and_the_rerun_saves_once(
        st_marys: Any, integrex: Any, alice: Any) -> None:
    spec = get_spec("claim-status")
    batch = start_reading(spec, facility=st_marys, connection=integrex, user=alice,
                          filename="f.csv", upload=io.BytesIO(_claims(1200)))
    save = batches._save_rows

    def save_then_die(*args: Any) -> None:
        save(*args)
        raise WorkerKilled

    with mock.patch.object(batches, "_save_rows", side_effect=save_then_die):
        with pytest.raises(WorkerKilled):
            tasks.read_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.state, batch.read_attempts) == (Batch.State.READING, 1)
    assert batch.rows_read == 1000  # the progress written while reading stayed
    assert Ticket.objects.count() == 0 and UploadChunk.objects.filter(batch=batch).exists()

    assert tasks.read_batch(batch.pk) == "read"  # django-q2 delivers it again
    assert tasks.read_batch(batch.pk) == "already read"  # and once more, late

    batch.refresh_from_db()
    assert (batch.state, batch.ticket_count, batch.rows_read) == (Batch.State.READ, 1200, 1200)
    assert Ticket.objects.count() == 1200
    assert Ticket.objects.values("request_hash").distinct().count() == 1200
    assert UploadChunk.objects.count() == 0


def test_a_worker_killed_while_reading_the_file_leaves_nothing_and_the_rerun_saves_once(
        st_marys: Any, integrex: Any, alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(stored_uploads, "PIECE_BYTES", 4096)
    spec = get_spec("claim-status")
    batch = start_reading(spec, facility=st_marys, connection=integrex, user=alice,
                          filename="f.csv", upload=io.BytesIO(_claims(1200)))
    assert UploadChunk.objects.filter(batch=batch).count() > 10
    decrypt = stored_uploads.decrypt_bytes
    pieces = 0

    def die_at_the_tenth_piece(token: bytes) -> bytes:
        nonlocal pieces
        pieces += 1
        if pieces == 10:
            raise WorkerKilled
        return decrypt(token)

    with mock.patch.object(stored_uploads, "decrypt_bytes", side_effect=die_at_the_tenth_piece):
        with pytest.raises(WorkerKilled):
            tasks.read_batch(batch.pk)
    assert Ticket.objects.count() == 0

    tasks.read_batch(batch.pk)

    assert Ticket.objects.count() == 1200 and UploadChunk.objects.count() == 0


def test_a_file_killed_three_times_is_refused_and_forgotten(st_marys: Any, integrex: Any,
                                                            alice: Any) -> None:
    batch = start_reading(get_spec("claim-status"), facility=st_marys, connection=integrex,
                          user=alice, filename="f.csv", upload=io.BytesIO(_claims(5)))
    Batch.objects.filter(pk=batch.pk).update(read_attempts=batches.MAX_READ_ATTEMPTS)

    assert tasks.read_batch(batch.pk) == "unreadable"

    batch.refresh_from_db()
    assert batch.state == Batch.State.UNREADABLE and "stopped 3 times" in batch.read_error
    assert Ticket.objects.count() == 0 and UploadChunk.objects.count() == 0


def test_the_page_shows_progress_while_reading_then_reloads_into_the_batch(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, st_marys, integrex, _claims(50))
    batch = Batch.objects.get()
    url = f"/claims/status/batches/{batch.pk}/"
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_X_POLL": "1", "HTTP_HX_TARGET": "batch-reading"}
    Batch.objects.filter(pk=batch.pk).update(rows_read=500)  # as the worker writes it

    page = client.get(url).content.decode()
    fragment = client.get(url, **poll)

    assert "Reading the file." in page and 'data-count="rows-read">500<' in page
    assert 'hx-trigger="every 2s"' in page
    assert fragment.status_code == 200 and "500</span> rows read so far" in (
        fragment.content.decode())

    tasks.read_batch(batch.pk)
    done = client.get(url, **poll)
    page = client.get(url).content.decode()

    assert done.headers["HX-Refresh"] == "true"
    assert "50 rows: 50 lookups, 0 invalid" in page and "JANE DOE49" in page


def test_row_errors_of_a_file_read_by_the_worker_show_as_for_a_small_file(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    body = _claims(40) + b"JANE,LATE,1970-02-30,A1,2026-10-01,AETNA\n"
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, st_marys, integrex, body)
    batch = Batch.objects.get()

    tasks.read_batch(batch.pk)
    page = client.get(f"/claims/status/batches/{batch.pk}/").content.decode()

    assert "1 row could not be sent." in page
    assert '<td class="num">42</td><td>patientDob:' in page


def test_a_corrupt_file_shows_why_on_the_batch_page_and_is_forgotten(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, small_threshold: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, st_marys, integrex, b"PK\x03\x04" + b"\x00not a zip" * 500, "big.xlsx")
    batch = Batch.objects.get()

    assert tasks.read_batch(batch.pk) == "unreadable"
    url = f"/claims/status/batches/{batch.pk}/"
    page = client.get(url).content.decode()
    poll = client.get(url, HTTP_HX_REQUEST="true", HTTP_X_POLL="1",
                      HTTP_HX_TARGET="batch-reading")

    assert "The file could not be read." in page
    assert "could not be read as an Excel workbook" in page and "Save it again" in page
    assert "Upload a file" in page and "hx-trigger" not in page
    assert poll.status_code == 286  # the poll stops
    assert UploadChunk.objects.count() == 0 and Ticket.objects.count() == 0
    assert "could not be read" in client.get("/claims/status/batches/").content.decode()


def test_a_file_over_the_row_cap_is_refused_by_the_worker_with_the_requests_message(
        st_marys: Any, integrex: Any, alice: Any, settings: Any) -> None:
    settings.MAX_BATCH_ROWS = 10
    batch = start_reading(get_spec("claim-status"), facility=st_marys, connection=integrex,
                          user=alice, filename="f.csv", upload=io.BytesIO(_claims(50)))

    tasks.read_batch(batch.pk)

    batch.refresh_from_db()
    assert batch.read_error == ("The file has more than 10 rows, the most one batch may hold. "
                                "Split it into smaller files.")
    assert Ticket.objects.count() == 0 and UploadChunk.objects.count() == 0


def test_a_large_csv_with_unknown_columns_is_refused_on_the_form_at_once(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any,
        small_threshold: Any) -> None:
    body = b"foo,bar\n" + b"1,2\n" * 1000

    response = _post(client_for(alice), st_marys, integrex, body)

    assert "No column of the file has a name we know." in response.content.decode()
    assert Batch.objects.count() == 0 and UploadChunk.objects.count() == 0


def test_an_error_on_our_side_is_shown_and_logged_without_the_patient(
        st_marys: Any, integrex: Any, alice: Any, settings: Any, caplog: Any) -> None:
    batch = start_reading(get_spec("claim-status"), facility=st_marys, connection=integrex,
                          user=alice, filename="f.csv",
                          upload=io.BytesIO(_claims(5, name="QUIXOTIC")))
    settings.FIELD_ENCRYPTION_KEYS = ["another key of at least thirty-two characters"]

    assert tasks.read_batch(batch.pk) == "failed"

    batch.refresh_from_db()
    assert batch.state == Batch.State.UNREADABLE
    assert "an error on our side" in batch.read_error and f"batch {batch.pk}" in batch.read_error
    assert "InvalidToken" in caplog.text and "QUIXOTIC" not in caplog.text
    assert UploadChunk.objects.count() == 0


def test_a_batch_no_worker_read_within_the_hour_is_refused_and_forgotten(
        st_marys: Any, integrex: Any, alice: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    spec = get_spec("claim-status")
    old = start_reading(spec, facility=st_marys, connection=integrex, user=alice,
                        filename="old.csv", upload=io.BytesIO(_claims(5)))
    new = start_reading(spec, facility=st_marys, connection=integrex, user=alice,
                        filename="new.csv", upload=io.BytesIO(_claims(5)))
    Batch.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=61))

    assert tasks.refuse_stale_reads() == 1

    old.refresh_from_db()
    assert old.state == Batch.State.UNREADABLE and "within an hour" in old.read_error
    assert list(UploadChunk.objects.values_list("batch_id", flat=True).distinct()) == [new.pk]
    from revcycle.schedules import SCHEDULES
    assert SCHEDULES["uploads: refuse files no worker read"].func == \
        "revcycle.tasks.refuse_stale_reads"


def test_the_upload_page_says_which_files_are_read_in_the_background(
        client_for: Any, alice: Any) -> None:
    page = client_for(alice).get(URL).content.decode()

    assert "a file over 1 MB is read in the background" in page
