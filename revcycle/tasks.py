"""django-q2 entry points for the shared core. Thin: ids in, domain functions called.

The engine no longer runs in django-q2 (it is `manage.py engine`). pump_engine and
ensure_pumps stay for tasks queued by a release before that change, so an upgraded cluster
finds them; they do nothing."""

from __future__ import annotations

import logging
import traceback

from revcycle import batches

logger = logging.getLogger(__name__)


def read_batch(batch_id: int) -> str:
    """Read a large upload's stored file into its batch (batches.start_reading)."""
    try:
        return batches.read_stored(batch_id)
    except Exception as exc:
        # The frames without the exception's text: a database error can quote a row.
        logger.error("batch %s: reading its file failed with %s\n%s", batch_id,
                     type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
        batches.refuse(batch_id, "The file could not be read because of an error on our "
                                 "side. Upload it again; if this happens again, tell your "
                                 f"administrator (batch {batch_id}).")
        return "failed"


def refuse_stale_reads() -> int:
    """Scheduled: refuse the batches no worker has read within the hour (their files go)."""
    return batches.refuse_stale()


def pump_engine(slot: int = 0) -> None:
    """Retired: the engine runs as `manage.py engine`."""


def ensure_pumps() -> int:
    """Retired with its schedule (schedules.RETIRED): the engine is supervised by systemd
    or compose, not restarted by the scheduler."""
    return 0
