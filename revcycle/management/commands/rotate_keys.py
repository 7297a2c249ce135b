"""`manage.py rotate_keys`: finish a key rotation (docs/upgrading.md).

- Every encrypted column is re-encrypted under the first of FIELD_ENCRYPTION_KEYS
  (MultiFernet.rotate: any listed key decrypts), so older keys can then be removed.
- `--blind-index` recomputes the SSN blind index with the current BLIND_INDEX_KEY, after
  that key changed (lookups by SSN find nothing until it is done).

Works on the stored ciphertext in chunks, one transaction each, so it can run while the
site is up and be interrupted and run again."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from revcycle import crypto
from revcycle.crypto import EncryptedJSONField, EncryptedTextField
from revcycle.models import Encounter

CHUNK = 500


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary key column, encrypted column) for every encrypted field."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField | EncryptedJSONField):
                found.append((model._meta.db_table, model._meta.pk.column, field.column))
    return found


def rotate_column(table: str, pk: str, column: str) -> int:
    qn = connection.ops.quote_name
    done, last = 0, None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            after = "" if last is None else f" AND {qn(pk)} > %s"
            cursor.execute(
                f"SELECT {qn(pk)}, {qn(column)} FROM {qn(table)} WHERE {qn(column)} LIKE %s"
                f"{after} ORDER BY {qn(pk)} LIMIT {CHUNK}",
                [crypto.PREFIX + "%"] + ([] if last is None else [last]))
            rows = cursor.fetchall()
            for row_pk, stored in rows:
                cursor.execute(f"UPDATE {qn(table)} SET {qn(column)} = %s WHERE {qn(pk)} = %s",
                               [crypto.rotate(stored), row_pk])
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]


def reindex_encounters() -> int:
    done = 0
    for encounter in Encounter.objects.only("pk", "patient_ssn").iterator(chunk_size=CHUNK):
        Encounter.objects.filter(pk=encounter.pk).update(
            patient_ssn_index=crypto.blind_index(encounter.patient_ssn or "", "ssn"))
        done += 1
    return done


class Command(BaseCommand):
    help = "Re-encrypt every secret and PHI column under the newest key; --blind-index too."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--blind-index", action="store_true",
                            help="Also recompute blind indexes (after BLIND_INDEX_KEY changed).")

    def handle(self, *args: Any, **options: Any) -> None:
        for table, pk, column in encrypted_columns():
            count = rotate_column(table, pk, column)
            self.stdout.write(f"{table}.{column}: {count} values re-encrypted")
        if options["blind_index"]:
            self.stdout.write(f"encounters: {reindex_encounters()} SSN indexes recomputed")
