"""Uploads are bounded (issue 14, #4): a file over UPLOAD_MAX_BYTES is refused as it
arrives, before anything reads it; a file is parsed as a stream, so a file over the row cap
stops at the cap without being read whole."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from claims.export import SPEC
from revcycle import csvio
from revcycle.batches import BatchError, create_batch
from revcycle.models import Batch, Ticket

HEADER = "patientFirstName,patientLastName,patientDob,subscriberId,admitDate,payerId\n"
URL = "/claims/status/batches/upload/"


def _csv(rows: int) -> bytes:
    return (HEADER + "".join(f"JANE,DOE{i},1970-01-02,A{i},2026-10-01,AETNA\n"
                             for i in range(rows))).encode()


@pytest.fixture(autouse=True)
def no_kick() -> Any:
    with mock.patch("revcycle.engine.kick"):
        yield


def _post(client: Any, st_marys: Any, integrex: Any, body: bytes) -> Any:
    upload = SimpleUploadedFile("big.csv", body, content_type="text/csv")
    return client.post(URL, {"file": upload, "facility": st_marys.pk,
                             "connection": integrex.pk})


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 4096
    body = _csv(1000)
    assert len(body) > 10 * 4096

    with mock.patch("revcycle.csvio.read_upload", wraps=csvio.read_upload) as reader:
        response = _post(client_for(alice), st_marys, integrex, body)

    page = response.content.decode()
    assert response.status_code == 200
    assert "The file is larger than 4,096 bytes, the most one upload may be." in page
    assert reader.call_count == 0
    assert "file" not in response.wsgi_request.FILES  # skipped as it arrived, never stored
    assert Batch.objects.count() == 0 and Ticket.objects.count() == 0


def test_the_size_is_checked_even_without_the_upload_handler(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 4096
    settings.FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

    response = _post(client_for(alice), st_marys, integrex, _csv(1000))

    assert "The file is larger than 4,096 bytes" in response.content.decode()
    assert Batch.objects.count() == 0


def test_a_file_at_the_cap_is_accepted(client_for: Any, alice: Any, st_marys: Any,
                                       integrex: Any, settings: Any) -> None:
    body = _csv(3)
    settings.UPLOAD_MAX_BYTES = len(body)

    response = _post(client_for(alice), st_marys, integrex, body)

    assert response.status_code == 302 and Batch.objects.get().ticket_count == 3


def test_a_file_over_the_row_cap_stops_at_the_cap_with_a_message(
        client_for: Any, alice: Any, st_marys: Any, integrex: Any, settings: Any) -> None:
    settings.MAX_BATCH_ROWS = 5

    response = _post(client_for(alice), st_marys, integrex, _csv(50))

    assert "The file has more than 5 rows, the most one batch may hold." in (
        response.content.decode())
    assert Batch.objects.count() == 0


class _CountingFile(io.BytesIO):
    """A file that counts the bytes taken from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = super().read1(size)
        self.taken += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.taken += n
        return n


def test_the_parse_is_a_stream_that_stops_reading_at_the_row_cap(
        st_marys: Any, integrex: Any, alice: Any, settings: Any) -> None:
    settings.MAX_BATCH_ROWS = 10
    body = _csv(20_000)  # about 900 KB
    upload = _CountingFile(body)

    with pytest.raises(BatchError, match="more than 10 rows"):
        create_batch(SPEC, facility=st_marys, connection=integrex, user=alice,
                     filename="big.csv", upload=upload)

    # The head read for the delimiter (64 KB) and one buffer of rows: never the whole file.
    assert upload.taken < 200_000 < len(body)


def test_a_streamed_upload_reads_windows_text_and_a_bom(st_marys: Any, integrex: Any,
                                                        alice: Any) -> None:
    row = "JOSÉ,MÜLLER,1970-01-02,A{},2026-10-01,AETNA\n"
    body = "\ufeff".encode() + HEADER.encode() + row.format(1).encode()
    windows = HEADER.encode() + row.format(2).encode("cp1252")

    for data in (body, windows):
        create_batch(SPEC, facility=st_marys, connection=integrex, user=alice,
                     filename="x.csv", upload=io.BytesIO(data))

    assert sorted(Ticket.objects.values_list("patient_name", flat=True)) == [
        "JOSÉ MÜLLER", "JOSÉ MÜLLER"]


def test_windows_text_past_the_head_of_a_utf8_file_is_read_as_windows_text(
        st_marys: Any, integrex: Any, alice: Any) -> None:
    late = "JOSÉ,MÜLLER,1970-01-02,LATE,2026-10-01,AETNA\n".encode("cp1252")
    upload = io.BytesIO(_csv(2000) + late)  # about 90 KB of ASCII first
    assert len(upload.getvalue()) > csvio.HEAD_BYTES

    create_batch(SPEC, facility=st_marys, connection=integrex, user=alice, filename="x.csv",
                 upload=upload)

    assert Ticket.objects.filter(patient_name="JOSÉ MÜLLER").count() == 1
