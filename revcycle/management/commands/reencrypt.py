"""Rewrite every encrypted value under the newest key, after a key rotation.

Step 2 of the README's rotation: put the new key first in FIELD_ENCRYPTION_KEYS (old ones
after it), restart, run this, then drop the old key. Every EncryptedTextField and
EncryptedJSONField of every model is found on its own, so a new model needs no change here;
the pieces of large uploads waiting for their worker (UploadChunk, raw Fernet tokens in a
binary column) are rewritten too, or removing the old key would fail those uploads.
Resumable: it walks each table in primary-key batches and skips values already under the
newest key, so a run that was stopped simply starts again. Audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction

from revcycle import crypto
from revcycle.audit import record_event


def encrypted_columns() -> Iterator[tuple[type[models.Model], list[models.Field]]]:
    """Each concrete model with its encrypted fields, one table once."""
    seen: set[str] = set()
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table in seen:
            continue
        fields = [f for f in meta.local_concrete_fields
                  if isinstance(f, crypto.EncryptedTextField | crypto.EncryptedJSONField)]
        if fields:
            seen.add(meta.db_table)
            yield model, fields


def under_newest_key(stored: str) -> bool:
    return token_under_newest_key(stored[len(crypto.PREFIX):].encode())


def token_under_newest_key(token: bytes) -> bool:
    newest = crypto._fernet_for(settings.FIELD_ENCRYPTION_KEYS[0])
    try:
        newest.decrypt(token)
    except InvalidToken:
        return False
    return True


def reencrypt_table(model: type[models.Model], fields: list[models.Field], batch: int,
                    progress: Any = None) -> tuple[int, int]:
    """Rewrite one table's encrypted values; returns (rows seen, values rewritten)."""
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    columns = [f.column for f in fields]
    select = (f"SELECT {pk}, {', '.join(qn(c) for c in columns)} FROM {table} "
              f"WHERE {pk} > %s ORDER BY {pk} LIMIT %s")
    last: Any = None
    seen = rewritten = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [last if last is not None else _lowest(model), batch])
            rows = cursor.fetchall()
            for row in rows:
                for column, stored in zip(columns, row[1:], strict=True):
                    if not stored or under_newest_key(stored):
                        continue
                    try:
                        rotated = crypto.rotate(stored)
                    except InvalidToken:
                        raise CommandError(
                            f"{model._meta.label} id {row[0]}, {column}: no key in "
                            "FIELD_ENCRYPTION_KEYS decrypts it; keep the old key listed"
                        ) from None
                    # Only if the value is still the one read: a concurrent save wins.
                    cursor.execute(f"UPDATE {table} SET {qn(column)} = %s "
                                   f"WHERE {pk} = %s AND {qn(column)} = %s",
                                   [rotated, row[0], stored])
                    rewritten += cursor.rowcount
        if not rows:
            return seen, rewritten
        seen += len(rows)
        last = rows[-1][0]
        if progress:
            progress(f"  {model._meta.label}: {seen} rows read, {rewritten} values rewritten "
                     f"(up to id {last})")


def reencrypt_upload_chunks(batch: int, progress: Any = None) -> tuple[int, int]:
    """Rewrite the stored pieces of uploads still waiting to be read; returns (pieces seen,
    pieces rewritten). Keys are read a batch at a time but each piece (a MB) on its own, as
    the worker reads them. A piece the worker deletes meanwhile is simply not updated."""
    from revcycle.models import UploadChunk

    last = seen = rewritten = 0
    while ids := list(UploadChunk.objects.filter(pk__gt=last).order_by("pk")
                      .values_list("pk", flat=True)[:batch]):
        for pk in ids:
            stored = UploadChunk.objects.filter(pk=pk).values_list("data", flat=True).first()
            if stored is None or token_under_newest_key(bytes(stored)):
                continue
            try:
                rotated = crypto.fernet().rotate(bytes(stored))
            except InvalidToken:
                raise CommandError(
                    f"revcycle.UploadChunk id {pk}: no key in FIELD_ENCRYPTION_KEYS decrypts "
                    "it; keep the old key listed") from None
            rewritten += UploadChunk.objects.filter(pk=pk, data=bytes(stored)).update(
                data=rotated)
        seen += len(ids)
        last = ids[-1]
        if progress:
            progress(f"  revcycle.UploadChunk: {seen} upload pieces read, {rewritten} "
                     f"rewritten (up to id {last})")
    return seen, rewritten


def _lowest(model: type[models.Model]) -> Any:
    """A primary key below every real one: -1 for integer keys, '' for text keys."""
    return -1 if isinstance(model._meta.pk, models.IntegerField | models.AutoField) else ""


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--blind-index", action="store_true",
                            help="Also recompute the SSN blind index (after BLIND_INDEX_KEY "
                                 "changed).")

    def handle(self, *args: Any, **options: Any) -> None:
        total_rows = total_values = 0
        tables = []
        for model, fields in encrypted_columns():
            rows, values = reencrypt_table(model, fields, options["batch_size"],
                                           progress=self.stdout.write)
            total_rows += rows
            total_values += values
            tables.append(model._meta.label)
        pieces, pieces_rewritten = reencrypt_upload_chunks(options["batch_size"],
                                                           progress=self.stdout.write)
        detail = (f"reencrypt: {total_values + pieces_rewritten} values rewritten under the "
                  f"newest key, {total_rows} rows in {len(tables)} tables and "
                  f"{pieces} pieces of uploads waiting to be read")
        if options["blind_index"]:
            detail += f"; {reindex_encounters(options['batch_size'])} SSN indexes recomputed"
        record_event(None, "change", object_type="revcycle.encryptionkey", detail=detail)
        self.stdout.write(self.style.SUCCESS(detail.capitalize() + "."))


def reindex_encounters(batch: int = 500) -> int:
    """Recompute each encounter's SSN blind index under the current BLIND_INDEX_KEY.

    Page by page on the primary key, each page in its own transaction, as
    reencrypt_table does: a server-side cursor (`.iterator()`) held across the updates
    fails behind PgBouncer in transaction mode ("cursor does not exist")."""
    from revcycle.models import Encounter

    done, last = 0, None
    while True:
        page = Encounter.objects.only("pk", "patient_ssn").order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        with transaction.atomic():
            rows = list(page[:batch])
            for encounter in rows:
                Encounter.objects.filter(pk=encounter.pk).update(
                    patient_ssn_index=crypto.blind_index(encounter.patient_ssn or "", "ssn"))
        if not rows:
            return done
        done += len(rows)
        last = rows[-1].pk
