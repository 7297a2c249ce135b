"""A large upload kept for the worker that reads it: Fernet-encrypted pieces in the database.

The database, not a file on disk: the web and worker processes may run on hosts that share
nothing else (compose services, systemd units on two machines), and the pieces are deleted
in the transaction that stores the batch's rows (batches.read_stored), so the file cannot
outlive its parse. Each piece is one MB: the worker reads the file back as a stream,
holding one decrypted piece at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

from revcycle.crypto import decrypt_bytes, encrypt_bytes
from revcycle.models import UploadChunk

PIECE_BYTES = 1024 * 1024


def store(batch_id: int, upload: IO[bytes]) -> int:
    """Encrypt the upload piece by piece under the batch; returns the bytes stored."""
    upload.seek(0)
    size = number = 0
    while piece := upload.read(PIECE_BYTES):
        UploadChunk.objects.create(batch_id=batch_id, number=number, data=encrypt_bytes(piece))
        number += 1
        size += len(piece)
    return size


def discard(batch_id: int) -> int:
    deleted, _ = UploadChunk.objects.filter(batch_id=batch_id).delete()
    return deleted


def is_stored(batch_id: int) -> bool:
    return UploadChunk.objects.filter(batch_id=batch_id).exists()


class _StoredFile(io.RawIOBase):
    """The pieces in order, decrypted one at a time. It rewinds to the start and nowhere
    else: the CSV reader reads the head to guess the encoding, then starts again."""

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self._rewind()

    def _rewind(self) -> None:
        ids = UploadChunk.objects.filter(batch_id=self.batch_id).order_by("number")
        self._ids: Iterator[int] = iter(list(ids.values_list("pk", flat=True)))
        self._piece = b""
        self._at = self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if offset == 0 and whence == io.SEEK_SET:
            self._rewind()
            return 0
        if offset == 0 and whence == io.SEEK_CUR:
            return self._pos
        raise io.UnsupportedOperation("a stored upload rewinds to its start only")

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._piece):
            pk = next(self._ids, None)
            if pk is None:
                return 0
            token = UploadChunk.objects.values_list("data", flat=True).get(pk=pk)
            self._piece, self._at = decrypt_bytes(token), 0
        n = min(len(buffer), len(self._piece) - self._at)
        buffer[:n] = self._piece[self._at:self._at + n]
        self._at += n
        self._pos += n
        return n


def open_stored(batch_id: int) -> IO[bytes]:
    """The stored upload as a binary file to read (csvio.read_upload, xlsxio.read_xlsx)."""
    return io.BufferedReader(_StoredFile(batch_id), buffer_size=64 * 1024)
