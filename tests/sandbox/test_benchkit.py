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
