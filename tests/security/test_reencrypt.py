"""`manage.py reencrypt` rewrites every encrypted value under the newest key, so the old key
can be dropped; it is resumable (a second run rewrites nothing) and audited."""

from __future__ import annotations

from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command

from revcycle.models import AuditEvent, Connection, Encounter, Ticket

NEW = Fernet.generate_key().decode()


def _run() -> str:
    out = StringIO()
    call_command("reencrypt", "--batch-size", "1", stdout=out)
    return out.getvalue()


def test_values_under_the_old_key_read_with_only_the_new_key_afterwards(
        settings, encounter, integrex, st_marys):
    old = settings.FIELD_ENCRYPTION_KEYS[0]  # the fixtures' rows are under this key
    ticket = Ticket.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                   request={"accountNumber": "ACC1001"})

    settings.FIELD_ENCRYPTION_KEYS = [NEW, old]
    output = _run()

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert Encounter.objects.get(pk=encounter.pk).patient_ssn == "123-45-6789"
    assert Connection.objects.get(pk=integrex.pk).client_secret == "s3cret-client"
    assert Ticket.objects.get(pk=ticket.pk).request == {"accountNumber": "ACC1001"}
    assert "revcycle.Encounter" in output
    event = AuditEvent.objects.get(object_type="revcycle.encryptionkey")
    assert "values rewritten under the newest key" in event.detail


def test_a_second_run_rewrites_nothing(settings, encounter, integrex):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, settings.FIELD_ENCRYPTION_KEYS[0]]
    assert "Reencrypt: 0 values" not in _run()
    assert "Reencrypt: 0 values rewritten" in _run()


def test_a_value_no_key_decrypts_stops_the_run_with_its_place(settings, encounter):
    import pytest
    from django.core.management.base import CommandError

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(CommandError, match="revcycle.Encounter id"):
        _run()


def test_an_upload_waiting_for_its_worker_reads_with_only_the_new_key_afterwards(
        settings, st_marys, integrex, monkeypatch):
    import io

    from revcycle import stored_uploads
    from revcycle.models import Batch, UploadChunk

    monkeypatch.setattr(stored_uploads, "PIECE_BYTES", 10)
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    body = b"patientLastName,subscriberId\nDOE,A1\nROE,A2\n"
    batch = Batch.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                 state=Batch.State.READING)
    stored_uploads.store(batch.pk, io.BytesIO(body))
    assert UploadChunk.objects.filter(batch=batch).count() == 5

    settings.FIELD_ENCRYPTION_KEYS = [NEW, old]
    output = _run()
    assert "revcycle.UploadChunk: 5 upload pieces read, 5 rewritten" in output

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert stored_uploads.open_stored(batch.pk).read() == body
    event = AuditEvent.objects.get(object_type="revcycle.encryptionkey")
    assert "5 pieces of uploads waiting to be read" in event.detail
    assert "Reencrypt: 0 values rewritten" in _run()  # resumable: nothing twice
