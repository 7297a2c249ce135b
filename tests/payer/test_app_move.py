"""The HCMS payer moved from the claims app to its own: its rows, its webhook URL and its
permissions came along."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from payer.models import PayerClaim


def test_the_webhook_url_payers_registered_is_unchanged() -> None:
    assert reverse("payer:webhook", args=[7]) == "/claims/payer/webhooks/7/"
    assert reverse("payer:detail", args=[3]) == "/claims/payer/3/"


def test_payer_claims_keep_their_table() -> None:
    assert PayerClaim._meta.db_table == "claims_payerclaim"


@pytest.mark.django_db(transaction=True)
def test_a_claim_stored_before_the_move_is_a_payer_claim_after_it(st_marys: Any) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("claims", "0002_payer_claims"), ("payer", None)])
    old_apps = executor.loader.project_state([("claims", "0002_payer_claims")]).apps
    Connection = old_apps.get_model("revcycle", "Connection")
    OldClaim = old_apps.get_model("claims", "PayerClaim")
    conn = Connection.objects.create(kind="payer", name="HCMS", base_url="http://payer.test")
    OldClaim.objects.create(reference="REF-1", facility_id=st_marys.pk, connection_id=conn.pk,
                            diagnosis_code="E11.9", amount="12.50", patient_name="Ann Lee")
    ContentType = old_apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="payer").delete()
    old_type = ContentType.objects.get_or_create(app_label="claims", model="payerclaim")[0]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    claim = PayerClaim.objects.get(reference="REF-1")
    assert (claim.patient_name, str(claim.amount)) == ("Ann Lee", "12.50")
    old_type.refresh_from_db()
    assert old_type.app_label == "payer"  # its permissions and admin history follow


@pytest.mark.django_db
def test_the_payer_models_permissions_belong_to_the_payer_app() -> None:
    from django.contrib.auth.models import Permission

    labels = set(Permission.objects.filter(codename="view_payerclaim")
                 .values_list("content_type__app_label", flat=True))
    assert "payer" in labels and "claims" not in labels
