"""Upload size cap: a file over settings.UPLOAD_MAX_BYTES is refused as it arrives.

Django parses a multipart body before any view runs (the CSRF check reads request.POST),
so a view cannot refuse a file "before reading it". This handler, first in
FILE_UPLOAD_HANDLERS, skips a file as soon as its bytes pass the cap: the parser then
discards the rest of that file without storing it (Django's MultiPartParser, SkipFile), the
other form fields (the CSRF token) still arrive, and the view says why the file is missing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


def too_big_message() -> str:
    limit = settings.UPLOAD_MAX_BYTES
    size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    return (f"The file is larger than {size}, the most one upload may be. "
            "Split it into smaller files and upload each.")


def refused(request: Any) -> bool:
    """Whether a file of this request was skipped for its size."""
    return bool(getattr(request, "upload_refused", False))


class CappedUploadHandler(FileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.UPLOAD_MAX_BYTES:
            self.request.upload_refused = True
            raise SkipFile()
        return raw_data  # handed on to the handlers that store it

    def file_complete(self, file_size: int) -> None:
        return None  # a later handler builds the file
