"""The screens bench (sandbox/bench_screens.py) counts each request's queries however many
requests came before it: the connection's query log holds only its last 9,000, and a
count taken from its length before and after read 0 for every request past that."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from sandbox import bench_screens

pytestmark = pytest.mark.django_db


def test_a_request_after_the_query_log_is_full_still_counts_its_queries(client_for, alice):
    client = client_for(alice)
    url = reverse("claims:status_home")
    bench_screens.timed_get(client, url, {})  # the first also asks whether a worker runs
    first = bench_screens.timed_get(client, url, {})
    assert first.status == 200 and first.queries > 0
    connection.queries_log.extend({"sql": "SELECT 1", "time": "0.000"}
                                  for _ in range(connection.queries_log.maxlen or 0))
    assert len(connection.queries_log) == connection.queries_log.maxlen
    again = bench_screens.timed_get(client, url, {})
    assert again.queries == first.queries
