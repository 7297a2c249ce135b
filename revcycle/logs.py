"""Log lines a hospital's collector can read: a request id on every line of a request,
and JSON behind LOG_FORMAT=json. The PHI filter (logfilters.py) runs before either format,
so nothing here ever sees an unredacted message."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from revcycle.logfilters import redact

NO_REQUEST = "-"
request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
# A proxy's id is kept only if it cannot forge a log line or smuggle data into one.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = "X-Request-ID"
log = logging.getLogger("revcycle.requests")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def id_from_header(value: str) -> str:
    return value if _SAFE_ID.match(value) else new_request_id()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Tracebacks are redacted too: an exception's text may
    quote the data that caused it."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


# Tickets and batches a request creates: one line each, carrying the request's id, so the
# engine's lines (which name the ticket, in another process) can be traced to the request.

def _ticket_created(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and request_id.get() != NO_REQUEST:
        log.info("ticket %s queued (%s, connection %s)", instance.pk, instance.kind,
                 instance.connection_id)


def _batch_created(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and request_id.get() != NO_REQUEST:
        log.info("batch %s created; its tickets carry batch %s", instance.pk, instance.pk)


def connect() -> None:
    """Called from AppConfig.ready()."""
    from django.db.models.signals import post_save

    from revcycle.models import Batch, Ticket

    post_save.connect(_ticket_created, sender=Ticket, dispatch_uid="logs.ticket_created")
    post_save.connect(_batch_created, sender=Batch, dispatch_uid="logs.batch_created")
