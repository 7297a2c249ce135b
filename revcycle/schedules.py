"""Recurring jobs, registered idempotently after every `migrate` (signals.py).

Each domain adds its jobs to SCHEDULES in its AppConfig.ready(); the scheduler of
django-q2 wakes about every 30 s, so nothing here may need finer timing than a minute."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recurring:
    name: str
    func: str
    minutes: int


SCHEDULES: dict[str, Recurring] = {}


def add(name: str, func: str, minutes: int) -> None:
    SCHEDULES[name] = Recurring(name, func, minutes)


def install() -> int:
    from django_q.models import Schedule

    for job in SCHEDULES.values():
        Schedule.objects.update_or_create(
            name=job.name,
            defaults={"func": job.func, "schedule_type": Schedule.MINUTES,
                      "minutes": job.minutes, "repeats": -1},
        )
    return len(SCHEDULES)


add("engine: keep pumps running", "revcycle.tasks.ensure_pumps", 1)
