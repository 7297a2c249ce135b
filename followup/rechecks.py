"""Scheduled re-checks of answers that are not final (claim status: pending or not found;
each domain names its own in followup.sources.Domain.recheck_outcomes).

The rule: not sooner than `first_after_days` after the claim was first submitted, then
every `every_days` after its last answer, only inside the off-hours window on the clock of
the claim's facility (`Facility.time_zone`, not the server's),
until the answer is final or the claim is `max_age_days` old. Each run requeues at most
`chunk_size` claims, oldest answer first; the engine then keeps each connection's rate
limit while sending them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from followup import sources
from followup.models import FollowUp, RecheckPolicy, RecheckRun
from revcycle import engine
from revcycle.models import Facility, Ticket

KEEP_RUNS_DAYS = 30


def in_window(moment: time, start: time, end: time) -> bool:
    """Whether a local time of day falls in [start, end); a window may cross midnight."""
    if start == end:
        return True
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _not_final() -> Q:
    """Done tickets whose answer is not final, by the outcomes each domain registered."""
    q = Q(pk__in=[])
    for domain in sources.DOMAINS.values():
        if domain.recheck_outcomes:
            q |= Q(kind=domain.kind, outcome__in=domain.recheck_outcomes)
    return q


def facilities_in_window(policy: RecheckPolicy, now: datetime) -> tuple[list[int], set[str]]:
    """Ids of the facilities whose own clock is inside the window at `now`, and the local
    times ("18:30 America/Chicago") of those outside it, for the skipped run's reason."""
    inside: list[int] = []
    outside: set[str] = set()
    for pk, zone in Facility.objects.values_list("pk", "time_zone"):
        local = now.astimezone(ZoneInfo(zone)).time()
        if in_window(local, policy.window_start, policy.window_end):
            inside.append(pk)
        else:
            outside.add(f"{local:%H:%M} {zone}")
    return inside, outside


def due(policy: RecheckPolicy, now: datetime) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(
            _not_final(), state=Ticket.State.DONE,
            created_at__lte=now - timedelta(days=policy.first_after_days),
            created_at__gt=now - timedelta(days=policy.max_age_days),
            finished_at__lte=now - timedelta(days=policy.every_days),
            connection__active=True, connection__flagged_at__isnull=True,
        )
        .exclude(Q(followup__status=FollowUp.Status.RESOLVED))
        .order_by("finished_at", "id")
    )


def run(now: datetime | None = None) -> RecheckRun:
    now = now or timezone.now()
    policy = RecheckPolicy.get()
    record = RecheckRun.objects.create(started_at=now)
    inside, outside = facilities_in_window(policy, now)
    if not policy.enabled:
        record.skipped_reason = "re-checks are turned off"
    elif not inside:
        record.skipped_reason = (f"outside the window {policy.window_start:%H:%M}-"
                                 f"{policy.window_end:%H:%M} (local time "
                                 f"{', '.join(sorted(outside))})")[:200]
    else:
        candidates = due(policy, now).filter(facility_id__in=inside)
        record.considered = candidates.count()
        for ticket in candidates[: policy.chunk_size]:
            if engine.check_again(ticket):
                record.requeued += 1
        if record.requeued:
            engine.kick()
    record.finished_at = timezone.now()
    record.save()
    RecheckRun.objects.filter(started_at__lt=now - timedelta(days=KEEP_RUNS_DAYS)).delete()
    return record
