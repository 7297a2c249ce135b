"""Smart's facility settings moved to smartlink and the request metrics to the core: every
stored value came along."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from revcycle.models import ConnectionMinute
from smartlink.models import SmartFacility

BEFORE = [("revcycle", "0005_token_refresh_lease"), ("smartlink", "0001_smart_visits"),
          ("followup", "0001_initial")]


def test_request_metrics_keep_their_table() -> None:
    assert ConnectionMinute._meta.db_table == "followup_connectionminute"


@pytest.mark.django_db(transaction=True)
def test_smart_settings_and_request_metrics_stored_before_the_move_are_kept() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    Facility = old_apps.get_model("revcycle", "Facility")
    Connection = old_apps.get_model("revcycle", "Connection")
    OldMinute = old_apps.get_model("followup", "ConnectionMinute")
    arranged = Facility.objects.create(name="St. Mary's", npi="1083052872",
                                       smart_provider_key="SKSP_6122", smart_manages_copay=True,
                                       smart_late_diagnosis=True)
    plain = Facility.objects.create(name="Lakeside", npi="1234567893")
    conn = Connection.objects.create(kind="integrex", name="Integrex", base_url="http://i.test")
    minute = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    OldMinute.objects.create(connection_id=conn.pk, minute=minute, requests=7, errors=2,
                             latency_buckets=[5, 2])

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert sorted(SmartFacility.objects.values_list(
        "facility_id", "provider_key", "manages_copay", "late_diagnosis")) == [
        (arranged.pk, "SKSP_6122", True, True), (plain.pk, "", False, False)]
    kept = ConnectionMinute.objects.get()
    assert (kept.connection_id, kept.minute, kept.requests, kept.errors,
            kept.latency_buckets) == (conn.pk, minute, 7, 2, [5, 2])
