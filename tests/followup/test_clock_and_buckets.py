"""Follow-up judged on the right clock and at the right edges: the off-hours window is read
on the local clock (TIME_ZONE) when the moment arrives in UTC, and the aging buckets split
exactly at 30/31, 60/61 and 90/91 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest

from followup import rechecks, worklist
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("utc_hour, requeued", [
    (10, 1),  # 10:30 UTC is 02:30 in Los Angeles: inside the 01:00-05:00 window
    (2, 0),   # 02:30 UTC is 18:30 the evening before in Los Angeles: outside
])
def test_the_window_is_judged_on_the_local_clock_not_utc(settings, integrex, utc_hour,
                                                          requeued):
    settings.TIME_ZONE = "America/Los_Angeles"
    now = datetime(2026, 12, 3, utc_hour, 30, tzinfo=UTC)
    ticket = make_ticket(integrex, outcome="pending", age_days=10)
    offset = datetime.now(UTC) - now  # age the ticket relative to `now`
    type(ticket).objects.filter(pk=ticket.pk).update(
        created_at=ticket.created_at - offset, finished_at=ticket.finished_at - offset)

    with mock.patch("followup.rechecks.engine.kick"):
        run = rechecks.run(now=now)

    ticket.refresh_from_db()
    assert (run.requeued, ticket.state) == (requeued, "queued" if requeued else "done")
    if not requeued:
        assert "local time 18:30" in run.skipped_reason


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
