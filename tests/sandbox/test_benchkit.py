"""The bench's own settings (sandbox/benchkit.py)."""

from __future__ import annotations

import pytest

from sandbox import benchkit


def test_the_sandbox_runs_one_process_on_sqlite_and_two_on_postgresql() -> None:
    assert benchkit.sandbox_workers("sqlite", {}) == 1
    assert benchkit.sandbox_workers("postgresql", {}) == 2


def test_bench_sandbox_workers_overrides_the_default() -> None:
    assert benchkit.sandbox_workers("sqlite", {"BENCH_SANDBOX_WORKERS": "3"}) == 3
    assert benchkit.sandbox_workers("postgresql", {"BENCH_SANDBOX_WORKERS": " 1 "}) == 1


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bench_sandbox_workers_refuses_anything_but_a_positive_number(value: str) -> None:
    with pytest.raises(ValueError, match="BENCH_SANDBOX_WORKERS"):
        benchkit.sandbox_workers("sqlite", {"BENCH_SANDBOX_WORKERS": value})


def test_a_database_url_takes_more_options() -> None:
    assert benchkit.with_query("postgres://h/db", application_name="bench-engine") == (
        "postgres://h/db?application_name=bench-engine")
    assert benchkit.with_query("postgres://h/db?a=1", options="-c x=y") == (
        "postgres://h/db?a=1&options=-c+x%3Dy")


def test_postgresql_cpu_is_summed_per_role_from_two_reads() -> None:
    before = {10: 1.0, 11: 2.0, 12: 5.0}
    after = {10: 4.0, 11: 2.5, 12: 6.0, 13: 0.5}  # 13 started meanwhile
    roles = {10: "bench-engine", 11: "bench-sandbox", 13: "bench-engine"}
    assert benchkit.postgres_cpu_by_role(before, after, roles) == {
        "bench-engine": 3.5, "bench-sandbox": 0.5, "server": 1.0}
