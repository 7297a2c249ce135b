from __future__ import annotations

from typing import Any

import pytest

from claims.flow import KIND
from claims.forms import build_request, facility_defaults
from revcycle.models import Connection, Facility, Ticket


@pytest.fixture(autouse=True)
def no_kick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests drive the engine themselves."""
    monkeypatch.setattr("revcycle.engine.kick", lambda: None)


@pytest.fixture
def claim_request(st_marys: Facility) -> dict[str, Any]:
    cleaned = {
        "patientFirstName": "JANE", "patientLastName": "DOE", "patientDob": "1970-01-02",
        "subscriberId": "A0000000", "subscriberFirstName": "JANE", "subscriberLastName": "DOE",
        "subscriberDob": "1970-01-02", "admitDate": "2026-10-01", "totalCharges": "1250.00",
        "payerId": "AETNA", "payerName": "AETNA", "trackingId1": "ACC1001",
        "trackingId2": "ARCDELECH111274",
    } | facility_defaults(st_marys)
    return build_request(cleaned, st_marys)


@pytest.fixture
def make_ticket(st_marys: Facility, integrex: Connection, alice: Any,
                claim_request: dict[str, Any]) -> Any:
    def make(**overrides: Any) -> Ticket:
        values = dict(kind=KIND, facility=st_marys, connection=integrex, created_by=alice,
                      request=claim_request, account_number="ACC1001", patient_name="JANE DOE",
                      payer="AETNA") | overrides
        return Ticket.objects.create(**values)

    return make
