"""`manage.py reencrypt`: after a new key goes in front, the old one can be removed."""

from __future__ import annotations

import io
from typing import Any

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from revcycle import crypto
from revcycle.models import Connection, Encounter, Ticket


def raw(table: str, column: str, pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_after_rotation_only_the_new_key_is_needed(settings: Any, integrex: Any,
                                                   encounter: Any) -> None:
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    ticket = Ticket.objects.create(kind="claim_status", facility=encounter.facility,
                                   connection=integrex, request={"patientSsn": "123456789"})
    before = raw("revcycle_connection", "client_secret", integrex.pk)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypt", stdout=out)
    assert "values rewritten under the newest key" in out.getvalue()
    assert raw("revcycle_connection", "client_secret", integrex.pk) != before
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
    assert Connection.objects.get(pk=integrex.pk).client_secret == "s3cret-client"
    assert Encounter.objects.get(pk=encounter.pk).patient_ssn == "123-45-6789"
    assert Ticket.objects.get(pk=ticket.pk).request == {"patientSsn": "123456789"}


def test_blind_index_is_recomputed_under_a_new_key(settings: Any, encounter: Any) -> None:
    settings.BLIND_INDEX_KEY = "a-new-blind-index-key"
    wanted = crypto.blind_index("123-45-6789", "ssn")
    assert Encounter.objects.get(pk=encounter.pk).patient_ssn_index != wanted
    call_command("reencrypt", "--blind-index", stdout=io.StringIO())
    assert Encounter.objects.get(pk=encounter.pk).patient_ssn_index == wanted


def test_blind_indexes_are_recomputed_page_by_page_for_every_encounter(
        settings: Any, encounter: Any) -> None:
    # Pages on the primary key, not one server-side cursor held across the updates (which
    # fails behind PgBouncer in transaction mode): every encounter, across several pages.
    ssns = ["123-45-6789", "222-33-4444", "555-66-7777", "888-99-0000", ""]
    for i, ssn in enumerate(ssns[1:]):
        Encounter.objects.create(facility=encounter.facility, account_number=f"ACC20{i}",
                                 patient_ssn=ssn)
    settings.BLIND_INDEX_KEY = "a-new-blind-index-key"
    out = io.StringIO()

    call_command("reencrypt", "--blind-index", "--batch-size", "2", stdout=out)

    stored = dict(Encounter.objects.values_list("patient_ssn", "patient_ssn_index"))
    assert stored == {ssn: crypto.blind_index(ssn, "ssn") for ssn in ssns}
    assert "5 ssn indexes recomputed" in out.getvalue()  # (the summary is capitalised)
