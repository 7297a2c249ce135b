"""The encryption helpers one by one: keys, the stored prefix, blind indexes and masks
(written to kill the mutants `make mutants MODULE=revcycle/crypto.py` found alive)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured

from revcycle import crypto

KEY = Fernet.generate_key().decode()
OTHER_KEY = Fernet.generate_key().decode()
PASSPHRASE = "a long operator passphrase of 32+ characters"


@pytest.fixture(autouse=True)
def _fresh_keys() -> Any:
    crypto._multifernet.cache_clear()
    yield
    crypto._multifernet.cache_clear()


def test_a_proper_fernet_key_is_used_as_it_is(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    stored = crypto.encrypt("secret")
    assert stored.startswith("fernet:")
    assert Fernet(KEY.encode()).decrypt(stored.removeprefix("fernet:").encode()) == b"secret"


def test_a_passphrase_is_stretched_to_the_same_key_every_time(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [PASSPHRASE]
    stored = crypto.encrypt("secret")
    crypto._multifernet.cache_clear()
    assert crypto.decrypt(stored) == "secret"
    assert crypto._fernet_for(PASSPHRASE).decrypt(
        stored.removeprefix("fernet:").encode()) == b"secret"


def test_a_passphrase_of_exactly_32_characters_is_accepted_and_31_refused() -> None:
    crypto._fernet_for("x" * 32)
    with pytest.raises(ImproperlyConfigured,
                       match=r"^each FIELD_ENCRYPTION_KEYS entry needs 32\+ characters$"):
        crypto._fernet_for("x" * 31)


def test_decrypt_refuses_plain_text_and_a_wrong_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    with pytest.raises(ValueError, match="^value is not encrypted: refusing to treat plain "
                                         "text as a secret$"):
        crypto.decrypt("secret")
    stored = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [OTHER_KEY]
    with pytest.raises(InvalidToken):
        crypto.decrypt(stored)


def test_rotate_re_encrypts_under_the_newest_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    old = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = [OTHER_KEY, KEY]
    rotated = crypto.rotate(old)
    settings.FIELD_ENCRYPTION_KEYS = [OTHER_KEY]
    assert rotated.startswith("fernet:") and crypto.decrypt(rotated) == "secret"


def test_the_blind_index_ignores_case_and_punctuation_but_not_the_purpose_or_key(
        settings: Any) -> None:
    index = crypto.blind_index("ab-12 3", "ssn")
    assert index == crypto.blind_index("AB123", "ssn")
    assert len(index) == 64 and index != crypto.blind_index("AB124", "ssn")
    assert index != crypto.blind_index("AB123", "member")
    assert crypto.blind_index("--", "ssn") == ""
    settings.BLIND_INDEX_KEY = "another key"
    assert crypto.blind_index("AB123", "ssn") != index


def test_a_stored_blind_index_is_the_hmac_of_the_upper_case_value(settings: Any) -> None:
    # Indexes stored yesterday must match today's: a known answer, not a comparison of two
    # computed values (which would change together if the normalisation changed).
    settings.BLIND_INDEX_KEY = "index key"
    expected = hmac.new(b"index key:member", b"AB123", hashlib.sha256).hexdigest()
    assert crypto.blind_index("ab-12 3", "member") == expected


def test_empty_and_missing_text_stay_as_they_are() -> None:
    field = crypto.EncryptedTextField()
    assert field.get_prep_value("") == "" and field.get_prep_value(None) is None
    assert field.from_db_value("", None, None) == ""
    assert field.from_db_value(None, None, None) is None
    assert field.get_prep_value(123).startswith("fernet:")
    assert field.from_db_value(field.get_prep_value(123), None, None) == "123"


def test_the_json_field_reads_ciphertext_and_leaves_other_values_alone() -> None:
    field = crypto.EncryptedJSONField()
    stored = field.get_prep_value({"ssn": "123-45-6789"})
    assert "123-45-6789" not in stored
    assert field.to_python(stored) == {"ssn": "123-45-6789"}
    assert field.to_python({"a": 1}) == {"a": 1} and field.to_python("plain") == "plain"
    assert field.from_db_value(stored, None, None) == {"ssn": "123-45-6789"}
    assert field.from_db_value("", None, None) is None
    assert field.get_prep_value(None) is None


def test_the_json_field_serialises_for_dumps() -> None:
    class Holder:
        response = {"paid": "12.50"}

    field = crypto.EncryptedJSONField()
    field.attname = "response"
    assert field.value_to_string(Holder()) == '{"paid": "12.50"}'


def test_the_json_field_stores_dates_and_amounts_as_text(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    field = crypto.EncryptedJSONField()
    value = {"dos": date(2026, 3, 1), "paid": Decimal("12.50"),
             "at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)}
    stored = field.get_prep_value(value)
    assert json.loads(crypto.decrypt(stored)) == {
        "dos": "2026-03-01", "paid": "12.50", "at": "2026-03-01 09:30:00+00:00"}

    class Holder:
        response = value

    field.attname = "response"
    assert json.loads(field.value_to_string(Holder())) == {
        "dos": "2026-03-01", "paid": "12.50", "at": "2026-03-01 09:30:00+00:00"}


@pytest.mark.parametrize("ssn,masked", [
    ("123-45-6789", "***-**-6789"), ("6789", "***-**-6789"), ("12", "***-**-****"),
    ("", ""), (None, ""), ("no digits", ""),
])
def test_an_ssn_is_masked_to_its_last_four_digits(ssn: str | None, masked: str) -> None:
    assert crypto.mask_ssn(ssn) == masked


def test_a_secret_is_shown_only_as_set_or_not() -> None:
    assert crypto.mask_secret("hunter2") == "•••••• (set)"
    assert crypto.mask_secret("") == "(not set)" and crypto.mask_secret(None) == "(not set)"
