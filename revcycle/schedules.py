"""Recurring jobs, registered idempotently after every `migrate` (signals.py).

Each app registers its jobs from its AppConfig.ready(); the scheduler of
django-q2 wakes about every 30 s, so nothing here may need finer timing than a minute."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recurring:
    name: str
    func: str
    minutes: int


SCHEDULES: dict[str, Recurring] = {}


def register(job: Recurring) -> Recurring:
    SCHEDULES[job.name] = job
    return job


def install() -> int:
    from django_q.models import Schedule

    for job in SCHEDULES.values():
        Schedule.objects.update_or_create(
            name=job.name,
            defaults={"func": job.func, "schedule_type": Schedule.MINUTES,
                      "minutes": job.minutes, "repeats": -1},
        )
    return len(SCHEDULES)


# Registered from RevcycleConfig.ready(), like every app's jobs.
KEEP_PUMPS = Recurring("engine: keep pumps running", "revcycle.tasks.ensure_pumps", 1)
