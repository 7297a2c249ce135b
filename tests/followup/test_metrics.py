from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from followup import health
from revcycle import metrics
from revcycle.models import ConnectionMinute

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_buffer():
    metrics._pending.clear()
    yield
    metrics._pending.clear()


def test_the_percentile_estimate_lands_in_the_right_bucket_and_close_to_the_truth():
    rng = random.Random(7)
    samples = [rng.lognormvariate(5, 0.6) for _ in range(5000)]  # median ~150 ms
    buckets = [0] * (len(metrics.BOUNDS_MS) + 1)
    for ms in samples:
        buckets[metrics.bucket_index(ms)] += 1
    ordered = sorted(samples)
    for q in (0.5, 0.95):
        true = ordered[int(q * len(ordered))]
        estimate = metrics.percentile(buckets, q)
        assert metrics.bucket_index(estimate) == metrics.bucket_index(true)
        assert abs(estimate - true) / true < 0.25


def test_percentiles_of_nothing_are_none():
    assert metrics.percentile([0] * 10, 0.5) is None


def test_recorded_requests_are_flushed_into_per_minute_rows(integrex):
    t0 = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC).timestamp()
    for i in range(10):
        metrics.record(integrex.pk, 200, 40.0 + i, ok=True, now=t0 + i)
    metrics.record(integrex.pk, 503, 900.0, ok=False, now=t0 + 2)
    metrics.record(integrex.pk, 200, 30.0, ok=True, now=t0 + 70)
    metrics.flush()
    metrics.record(integrex.pk, None, 7000.0, ok=False, now=t0 + 3)
    metrics.flush()  # adds to the existing row, from another flush (or process)
    rows = list(ConnectionMinute.objects.order_by("minute"))
    assert [(r.minute.minute, r.requests, r.errors) for r in rows] == [(0, 12, 2), (1, 1, 0)]
    assert sum(rows[0].latency_buckets) == 12 and rows[0].latency_buckets[-1] == 1


def test_summary_gives_requests_error_rate_and_percentiles(integrex):
    now = datetime.now(UTC)
    for i in range(20):
        metrics.record(integrex.pk, 200 if i % 4 else 500, 150.0, ok=bool(i % 4),
                       now=now.timestamp() - 30)
    metrics.flush()
    result = metrics.summary(integrex, now - timedelta(hours=1))
    assert result["requests"] == 20 and result["errors"] == 5
    assert result["error_rate"] == 0.25
    assert 100 < result["p50_ms"] <= 200 and 100 < result["p95_ms"] <= 200


def test_a_connection_failing_most_requests_or_its_health_check_is_in_trouble(integrex):
    now = datetime.now(UTC)
    assert not health.in_trouble(integrex)
    for _ in range(6):
        metrics.record(integrex.pk, 503, 100.0, ok=False, now=now.timestamp() - 60)
    metrics.flush()
    assert health.in_trouble(integrex)
    ConnectionMinute.objects.all().delete()
    integrex.last_health_ok = False
    integrex.save()
    assert health.in_trouble(integrex)


def test_a_few_errors_are_not_trouble(integrex):
    now = datetime.now(UTC)
    for _ in range(4):
        metrics.record(integrex.pk, 503, 100.0, ok=False, now=now.timestamp() - 60)
    metrics.flush()
    assert not health.in_trouble(integrex)


def test_admins_see_the_failing_flag_in_the_navigation(client_for, ada, integrex):
    integrex.last_health_ok = False
    integrex.last_health_message = "timed out"
    integrex.save()
    body = client_for(ada).get("/followup/dashboard/").content.decode()
    assert "1 failing" in body and 'id="connections"' in body and "timed out" in body
