from __future__ import annotations

from datetime import time
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import rechecks
from followup.models import FollowUp, RecheckPolicy, RecheckRun
from revcycle.models import Facility
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def kick():
    with mock.patch("followup.rechecks.engine.kick") as kick:
        yield kick


def night(settings, hour=2):
    """Today at `hour` local time (the window defaults to 01:00-05:00), on the facilities'
    clock (the window is judged on each facility's zone)."""
    settings.TIME_ZONE = "America/Los_Angeles"
    Facility.objects.update(time_zone="America/Los_Angeles")
    tz = ZoneInfo("America/Los_Angeles")
    return timezone.now().astimezone(tz).replace(hour=hour, minute=30)


@pytest.mark.parametrize("moment, start, end, inside", [
    (time(2), time(1), time(5), True), (time(5), time(1), time(5), False),
    (time(0, 59), time(1), time(5), False), (time(23), time(22), time(4), True),
    (time(3), time(22), time(4), True), (time(12), time(22), time(4), False),
])
def test_the_window_may_cross_midnight(moment, start, end, inside):
    assert rechecks.in_window(moment, start, end) is inside


def test_a_claim_is_rechecked_after_seven_days_then_every_three(settings, integrex, kick):
    now = night(settings)
    # Ages relative to the real clock, then the run judged at "now" (a frozen 02:30).
    young = make_ticket(integrex, outcome="pending", age_days=6)
    due_first = make_ticket(integrex, outcome="pending", age_days=8)
    checked_lately = make_ticket(integrex, outcome="not_found", age_days=20,
                                 finished_days_ago=1)
    due_again = make_ticket(integrex, outcome="not_found", age_days=20, finished_days_ago=4)
    too_old = make_ticket(integrex, outcome="pending", age_days=91, finished_days_ago=5)
    final = make_ticket(integrex, outcome="denied", age_days=20, finished_days_ago=10)
    offset = timezone.now() - now  # make "now" the frozen clock for every age above
    for t in (young, due_first, checked_lately, due_again, too_old, final):
        type(t).objects.filter(pk=t.pk).update(created_at=t.created_at - offset,
                                               finished_at=t.finished_at - offset)
    run = rechecks.run(now=now)
    states = {t.pk: type(t).objects.get(pk=t.pk).state
              for t in (young, due_first, checked_lately, due_again, too_old, final)}
    assert states == {young.pk: "done", due_first.pk: "queued", checked_lately.pk: "done",
                      due_again.pk: "queued", too_old.pk: "done", final.pk: "done"}
    assert (run.considered, run.requeued, run.skipped_reason) == (2, 2, "")
    kick.assert_called_once()


def test_nothing_is_requeued_outside_the_off_hours_window(settings, integrex, kick):
    noon = night(settings, hour=12)
    ticket = make_ticket(integrex, outcome="pending", age_days=10)
    run = rechecks.run(now=noon)
    ticket.refresh_from_db()
    assert ticket.state == "done" and run.requeued == 0
    assert "outside the window 01:00-05:00" in run.skipped_reason
    kick.assert_not_called()


def test_a_run_requeues_at_most_a_chunk_oldest_answer_first(settings, integrex, kick):
    RecheckPolicy.objects.update_or_create(pk=1, defaults={"chunk_size": 2})
    now = night(settings)
    tickets = [make_ticket(integrex, outcome="pending", age_days=30, finished_days_ago=d)
               for d in (5, 9, 7)]
    run = rechecks.run(now=now)  # ages are days apart: the hours between clocks do not matter
    assert (run.considered, run.requeued) == (3, 2)
    requeued = {t.pk for t in tickets if type(t).objects.get(pk=t.pk).state == "queued"}
    assert requeued == {tickets[1].pk, tickets[2].pk}


def test_resolved_flagged_and_disabled_are_left_alone(settings, integrex, alice, kick):
    now = night(settings)
    resolved = make_ticket(integrex, outcome="pending", age_days=30, finished_days_ago=9)
    FollowUp.for_ticket(resolved).resolve(alice, "written off")
    assert rechecks.run(now=now).considered == 0
    make_ticket(integrex, outcome="pending", age_days=30, finished_days_ago=9)
    integrex.flag("402")
    assert rechecks.run(now=now).considered == 0
    integrex.clear_flag()
    RecheckPolicy.objects.update_or_create(pk=1, defaults={"enabled": False})
    assert rechecks.run(now=now).skipped_reason == "re-checks are turned off"
    assert RecheckRun.objects.count() == 3


def test_the_task_is_scheduled_every_fifteen_minutes():
    from revcycle.schedules import SCHEDULES

    job = SCHEDULES["follow-up: scheduled claim re-checks"]
    assert (job.func, job.minutes) == ("followup.tasks.run_rechecks", 15)


def test_admins_change_the_schedule_on_a_small_page(client_for, ada, alice):
    assert client_for(alice).get(reverse("followup:recheck_policy")).status_code == 403
    client = client_for(ada)
    client.post(reverse("followup:recheck_policy"), {
        "enabled": "on", "first_after_days": 5, "every_days": 2, "max_age_days": 60,
        "window_start": "22:00", "window_end": "04:00", "chunk_size": 100,
        "pending_worklist_days": 30, "payer_review_days": 14})
    policy = RecheckPolicy.get()
    assert (policy.first_after_days, policy.every_days, policy.window_start) == (5, 2, time(22))
