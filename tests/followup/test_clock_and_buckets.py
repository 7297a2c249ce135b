"""Follow-up judged on the right clock and at the right edges: the off-hours window is read
on each facility's own clock (Facility.time_zone) when the server's clock is UTC, and the
aging buckets split exactly at 30/31, 60/61 and 90/91 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from followup import rechecks, worklist
from revcycle.models import Facility
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


def _aged_to(ticket: Any, now: datetime) -> None:
    """Age the ticket relative to `now` rather than the wall clock."""
    offset = datetime.now(UTC) - now
    type(ticket).objects.filter(pk=ticket.pk).update(
        created_at=ticket.created_at - offset, finished_at=ticket.finished_at - offset)


@pytest.mark.parametrize("utc_hour, requeued, reason", [
    (8, 1, ""),  # 08:30 UTC is 02:30 in Chicago: inside the 01:00-05:00 window, not in UTC
    (2, 0, "local time 20:30 America/Chicago"),  # inside in UTC; 20:30 the evening before
])
def test_the_window_is_judged_on_the_facilitys_clock_not_the_servers(
        settings, integrex, st_marys, utc_hour, requeued, reason):
    settings.TIME_ZONE = "UTC"
    Facility.objects.filter(pk=st_marys.pk).update(time_zone="America/Chicago")
    now = datetime(2026, 12, 3, utc_hour, 30, tzinfo=UTC)
    ticket = make_ticket(integrex, outcome="pending", age_days=10)
    _aged_to(ticket, now)

    with mock.patch("followup.rechecks.engine.kick"):
        run = rechecks.run(now=now)

    ticket.refresh_from_db()
    assert (run.requeued, ticket.state) == (requeued, "queued" if requeued else "done")
    assert reason in run.skipped_reason


def test_each_facility_is_rechecked_only_inside_its_own_window(settings, integrex, st_marys,
                                                                lakeside):
    settings.TIME_ZONE = "UTC"
    Facility.objects.filter(pk=st_marys.pk).update(time_zone="America/Chicago")
    Facility.objects.filter(pk=lakeside.pk).update(time_zone="UTC")
    now = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)  # 02:30 in Chicago, 08:30 in UTC
    chicago = make_ticket(integrex, outcome="pending", age_days=10)
    utc = make_ticket(integrex, outcome="pending", age_days=10, facility=lakeside)
    for ticket in (chicago, utc):
        _aged_to(ticket, now)

    with mock.patch("followup.rechecks.engine.kick"):
        run = rechecks.run(now=now)

    chicago.refresh_from_db()
    utc.refresh_from_db()
    assert (run.requeued, chicago.state, utc.state) == (1, "queued", "done")


def test_a_facility_without_a_zone_given_takes_the_servers(settings, db):
    settings.TIME_ZONE = "America/Los_Angeles"
    facility = Facility.objects.create(name="New Clinic", npi="1234567893")
    assert facility.time_zone == "America/Los_Angeles"


@pytest.mark.parametrize("name, valid", [
    ("America/Chicago", True), ("UTC", True), ("America/Chikago", False), ("", False),
    ("../etc/passwd", False),
])
def test_a_facility_zone_must_be_an_iana_name(db, name, valid):
    facility = Facility(name="Clinic", npi="1234567893", time_zone=name)
    if valid:
        facility.full_clean()
    else:
        with pytest.raises(ValidationError, match="time_zone"):
            facility.full_clean()


@pytest.mark.parametrize("days, bucket", [
    (0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"),
    (91, "90+"), (400, "90+"), (-3, "0-30"),
])
def test_aging_buckets_split_exactly_at_their_edges(days, bucket):
    today = date(2026, 12, 3)
    assert worklist.bucket_of(days) == bucket
    # The filter's date range for that bucket holds exactly that date of service.
    earliest, latest = worklist.bucket_range(bucket, today)
    service = today - timedelta(days=max(days, 0))
    assert (earliest is None or earliest <= service) and service <= latest
    for other, _, _ in worklist.AGE_BUCKETS:
        if other != bucket:
            low, high = worklist.bucket_range(other, today)
            assert not ((low is None or low <= service) and service <= high), other
