from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from revcycle.validators import SSN_RE, npi_is_valid
from sandbox import demo_data
from sandbox.models import SmartSession
from sandbox.scenarios import claim_scenario, discovery_scenario


def test_demo_patients_spread_every_claim_and_discovery_scenario() -> None:
    claims = {claim_scenario(demo_data.claim_status_request(p)) for p in demo_data.DEMO_PATIENTS}
    found = {discovery_scenario(demo_data.discovery_request(p)) for p in demo_data.DEMO_PATIENTS}
    assert claims == {"paid", "denied", "pending", "not_found", "rejected", "adjusted"}
    assert found == {"one", "two", "none", "garbled"}


def test_demo_patients_are_valid_and_unique() -> None:
    patients = demo_data.DEMO_PATIENTS
    assert len(patients) == 12
    for key in ("account_number", "smart_patient_number", "member_id", "ssn"):
        assert len({p[key] for p in patients}) == len(patients), key
    for p in patients:
        assert npi_is_valid(p["provider_npi"]) and SSN_RE.match(p["ssn"])


@pytest.mark.django_db
def test_seeding_opens_one_pending_session_per_patient_and_is_idempotent() -> None:
    first = demo_data.seed_sandbox()
    second = demo_data.seed_sandbox()
    assert [s.pk for s in first] == [s.pk for s in second]
    assert SmartSession.objects.count() == len(demo_data.DEMO_PATIENTS)


@pytest.mark.django_db
def test_seeding_replaces_expired_sessions(db: Any) -> None:
    demo_data.seed_sandbox()
    SmartSession.objects.update(opened_at=timezone.now() - timedelta(hours=25))
    demo_data.seed_sandbox()
    assert SmartSession.objects.count() == 2 * len(demo_data.DEMO_PATIENTS)


def test_a_demo_accounts_subscriber_id_is_known_to_the_sandbox_payer() -> None:
    """The payer claim form prefills insurance_id from the account's subscriber id."""
    from sandbox.payer import is_enrolled

    for p in demo_data.DEMO_PATIENTS:
        expected = p["payer_outcome"] != "not_found"
        assert is_enrolled(p["member_id"]) is expected, p["account_number"]
    assert any(p["payer_outcome"] == "not_found" for p in demo_data.DEMO_PATIENTS)
