"""Secrets and SSNs are ciphertext in the database, keys rotate, and a wrong key fails."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection as db

from revcycle.crypto import blind_index
from revcycle.models import Connection, Encounter

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _raw(table: str, column: str, pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("field,fixture,value", [
    ("client_secret", "integrex", "s3cret-client"),
    ("password", "smart", "hmis-password"),
    ("api_key", "payer", "payer-key"),
    ("webhook_secret", "payer", "whsec-test"),
])
def test_a_connection_secret_is_ciphertext_in_its_column(request: Any, field: str, fixture: str,
                                                         value: str) -> None:
    conn = request.getfixturevalue(fixture)
    raw = _raw("revcycle_connection", field, conn.pk)
    assert value not in raw
    assert raw.startswith("fernet:")
    assert getattr(Connection.objects.get(pk=conn.pk), field) == value


def test_the_patient_ssn_is_ciphertext_in_its_column(encounter: Encounter) -> None:
    raw = _raw("revcycle_encounter", "patient_ssn", encounter.pk)
    assert "123-45-6789" not in raw and "123456789" not in raw
    assert Encounter.objects.get(pk=encounter.pk).patient_ssn == "123-45-6789"


def test_values_written_under_the_old_key_still_read_after_rotation(settings: Any,
                                                                    st_marys: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    conn = Connection.objects.create(kind="integrex", name="Rotating", base_url="https://x.test",
                                     client_secret="before-rotation")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert Connection.objects.get(pk=conn.pk).client_secret == "before-rotation"
    conn.client_secret = "after-rotation"
    conn.save()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key retired: new writes still read
    assert Connection.objects.get(pk=conn.pk).client_secret == "after-rotation"


def test_a_wrong_key_raises_invalid_token_instead_of_returning_ciphertext(settings: Any,
                                                                          integrex: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(InvalidToken):
        Connection.objects.get(pk=integrex.pk)


def test_the_blind_index_matches_an_ssn_however_it_is_written(encounter: Encounter) -> None:
    assert encounter.patient_ssn_index == blind_index("123456789", "ssn")
    assert blind_index("123-45-6789", "ssn") == blind_index(" 123 45 6789 ", "ssn")
    assert blind_index("123-45-6789", "ssn") != blind_index("123-45-6780", "ssn")
    assert blind_index("123-45-6789", "ssn") != blind_index("123-45-6789", "member_id")
    found = Encounter.objects.get(patient_ssn_index=blind_index("123456789", "ssn"))
    assert found.pk == encounter.pk


def test_the_blind_index_is_keyed(settings: Any) -> None:
    before = blind_index("123-45-6789", "ssn")
    settings.BLIND_INDEX_KEY = "another-key-entirely-another-key-entirely"
    assert blind_index("123-45-6789", "ssn") != before
