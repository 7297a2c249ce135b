"""A connection's rate limit, shared through the database."""

from __future__ import annotations

from typing import Any

from revcycle import throttle
from revcycle.models import Connection, RateWindow


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_third_request_in_a_second_waits_for_the_next_window(integrex: Connection) -> None:
    integrex.rate_limit_per_second = 2
    fake = FakeTime(1000.1)
    for _ in range(3):
        throttle.acquire(integrex, sleep=fake.sleep, clock=fake.clock)
    assert len(fake.sleeps) == 1
    assert 0.9 <= fake.sleeps[0] <= 0.92  # to the start of second 1001, plus a little jitter
    windows = dict(RateWindow.objects.filter(connection=integrex).values_list("second", "count"))
    assert windows == {1000: 2, 1001: 1}


def test_a_slow_limit_spreads_requests_over_longer_windows(integrex: Connection) -> None:
    integrex.rate_limit_per_second = 0.5  # one request every two seconds
    fake = FakeTime(1000.0)
    throttle.acquire(integrex, sleep=fake.sleep, clock=fake.clock)
    throttle.acquire(integrex, sleep=fake.sleep, clock=fake.clock)
    assert len(fake.sleeps) == 1 and 2.0 <= fake.sleeps[0] <= 2.02


def test_old_windows_are_cleaned_up(integrex: Connection) -> None:
    integrex.rate_limit_per_second = 5
    throttle.acquire(integrex, clock=lambda: 1000.0)
    throttle.acquire(integrex, clock=lambda: 1100.0)
    assert list(RateWindow.objects.values_list("second", flat=True)) == [1100]


def test_rate_zero_never_touches_the_database(integrex: Connection,
                                              django_assert_num_queries: Any) -> None:
    integrex.rate_limit_per_second = 0

    def no_sleep(seconds: float) -> None:
        raise AssertionError("slept")

    with django_assert_num_queries(0):
        for _ in range(100):
            throttle.acquire(integrex, sleep=no_sleep)
