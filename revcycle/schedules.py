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

    Schedule.objects.filter(func__in=RETIRED).delete()
    for job in SCHEDULES.values():
        Schedule.objects.update_or_create(
            name=job.name,
            defaults={"func": job.func, "schedule_type": Schedule.MINUTES,
                      "minutes": job.minutes, "repeats": -1},
        )
    return len(SCHEDULES)


# Jobs an earlier release scheduled and this one no longer runs, removed on `migrate`.
# "engine: keep pumps running" restarted engine pumps inside django-q2; the engine is now
# a process of its own (`manage.py engine`) that systemd or compose keeps running.
RETIRED = ["revcycle.tasks.ensure_pumps"]
