"""django-q2 entry points for the shared core. Thin: ids in, domain functions called."""

from __future__ import annotations

from django_q.tasks import async_task

from revcycle import engine


def pump_engine(slot: int = 0) -> int | None:
    """Run the engine pump for a slot, then hand the slot to a successor at once so there is
    no gap waiting for the scheduler (which wakes only every ~30 s)."""
    steps = engine.run_pump_slot(slot)
    if steps is not None:  # we held the slot: pass it on; a duplicate run just stops
        async_task("revcycle.tasks.pump_engine", slot, group="engine")
    return steps


def ensure_pumps() -> int:
    """Scheduled every minute: start a pump in every slot whose pump stopped (a killed
    worker, a restart). Idempotent: a live pump keeps its slot."""
    slots = engine._stale_slots()
    for slot in slots:
        async_task("revcycle.tasks.pump_engine", slot, group="engine")
    return len(slots)
