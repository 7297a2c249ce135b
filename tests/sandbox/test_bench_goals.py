"""The bench's bound T* and its goal checks (sandbox/benchgoals.py): pure arithmetic."""

import pytest

from sandbox import benchgoals as goals


def test_floor_of_the_issues_example_is_27_7_seconds() -> None:
    # 1,000 tickets, 200 ms, 16 in flight, 15 s: nL/c = 12.5, + 15 + 0.2 = 27.7 > 2nL/c = 25.
    assert goals.floor_seconds(tickets=1000, latency=0.2, in_flight=16,
                               interval=15) == pytest.approx(27.7)


def test_floor_is_twice_the_posting_time_when_the_interval_is_short() -> None:
    # 10,000 tickets at 64 in flight: 2nL/c = 62.5 s beats nL/c + I + L = 31.25 + 15.2.
    assert goals.floor_seconds(tickets=10_000, latency=0.2, in_flight=64,
                               interval=15) == pytest.approx(62.5)


def test_floor_of_no_tickets_is_zero_and_of_no_concurrency_an_error() -> None:
    assert goals.floor_seconds(tickets=0, latency=0.2, in_flight=16, interval=15) == 0
    with pytest.raises(ValueError):
        goals.floor_seconds(tickets=5, latency=0.2, in_flight=0, interval=15)


def test_capacity_is_in_flight_over_latency() -> None:
    assert goals.capacity_per_second(latency=0.2, in_flight=16) == pytest.approx(80)


def test_batch_checks_pass_at_the_goal_and_fail_beyond_it() -> None:
    at_goal = goals.batch_checks(wall=1.2 * 27.7, floor=27.7, worker_cpu=10.0, requests=2000)
    assert [c.ok for c in at_goal] == [True, True]  # 10 s / 2,000 requests = 5 ms
    beyond = goals.batch_checks(wall=38.3, floor=27.7, worker_cpu=26.0, requests=2000)
    assert [c.ok for c in beyond] == [False, False]
    assert beyond[0].value == pytest.approx(38.3 / 27.7)
    assert beyond[1].value == pytest.approx(13.0)


def test_a_timed_out_batch_is_not_measured_rather_than_passed() -> None:
    checks = goals.batch_checks(wall=None, floor=27.7, worker_cpu=None, requests=0)
    assert [c.ok for c in checks] == [None, None]


def test_screen_checks_count_the_worst_page_and_poll_only_for_polled_fragments() -> None:
    page = goals.screen_checks(p95_ms=90, queries=[9, 11], median_ms=50, poll=False)
    assert [(c.measure, c.ok) for c in page] == [("p95 server time", True),
                                                 ("queries per request", False)]
    fragment = goals.screen_checks(p95_ms=90, queries=[7, 7], median_ms=25, poll=True)
    assert [c.ok for c in fragment] == [True, True, False]
    assert fragment[2].goal == "<= 20 ms"


def test_exit_status_fails_on_a_miss_unless_report_only() -> None:
    assert goals.exit_status([True, None, True], report_only=False) == 0
    assert goals.exit_status([True, False], report_only=False) == 1
    assert goals.exit_status([True, False], report_only=True) == 0


def test_scale_checks_pass_at_the_goal_and_name_each_miss() -> None:
    at_goal = goals.scale_checks(wall=1.3 * 62.5, floor=62.5, double_posts=0, peak=64, cap=64,
                                 not_done=0)
    assert [c.ok for c in at_goal] == [True, True, True, True]
    missed = goals.scale_checks(wall=90.0, floor=62.5, double_posts=1, peak=65, cap=64,
                                not_done=3)
    assert [c.ok for c in missed] == [False, False, False, False]
    assert [c.value for c in missed] == [pytest.approx(1.44), 1, 65, 3]
    unmeasured = goals.scale_checks(wall=None, floor=62.5, double_posts=0, peak=None, cap=64,
                                    not_done=0)
    assert [c.ok for c in unmeasured] == [None, True, None, True]
