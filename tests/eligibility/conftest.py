"""Discovery fixtures: Integrex answers as the specification shows them, and a helper that
drives a ticket through the engine's steps without waiting for the poll interval."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.utils import timezone

from revcycle import engine, oauth
from revcycle.models import Ticket

BASE = "https://integrex.test/api/v2"
DISCOVERY_URL = f"{BASE}/insurance-discovery"
SSN = "123-45-6789"


def coverage(**overrides: Any) -> dict[str, str]:
    """One coverage under the response table's names (amounts as strings)."""
    data = {
        "internalAccountNumber1": "ACC1001", "internalAccountNumber2": "ARCDELECH111274",
        "patientLastName": "DOE", "patientFirstName": "JANE", "patientDOB": "1970-01-02",
        "patientGender": "F", "sub.MemberID": "W900112233", "relationshipCode": "18",
        "relationshipDesc": "Self", "subLastName": "DOE", "subFirstName": "JANE",
        "subscriberDOB": "1970-01-02", "subscriberGender": "F", "responseDate": "2026-10-05",
        "beginDOS": "2026-10-01", "requestStatusCode": "1", "requestStatus": "Coverage Found",
        "coverageStatusCode": "1", "coverageStatusDesc": "Active Coverage",
        "coverageStartDate": "2024-01-01", "coverageEndDate": "", "groupNumber": "GRP55501",
        "planNumber": "PLN100", "planTypeCode": "PO", "planType": "PPO",
        "planTypeDescription": "Preferred Provider Organization", "coverageLevelCode": "FAM",
        "coverageLevelDescription": "Family", "benefitTypeCode": "30",
        "benefitTypeDesc": "Health Benefit Plan Coverage",
        "oop($)IndivInNetwork": "3000.00", "oop($)IndivInNetworkRemaining": "1250.50",
        "oop($)FamilyInNetwork": "6000.00", "oop($)FamilyInNetworkRemaining": "null",
        "oop($)IndivOutOfNetwork": "6000.00", "oop($)IndivOutOfNetworkRemaining": "6000.00",
        "oop($)FamilyOutOfNetwork": "", "oop($)FamilyOutOfNetworkRemaining": "",
        "ded($)IndivInNetwork": "1500.00", "ded($)IndivInNetworkRemaining": "300.00",
        "ded($)FamilyInNetwork": "3000.00", "ded($)FamilyInNetworkRemaining": "1800.00",
        "ded($)IndivOutOfNetwork": "3000.00", "ded($)IndivOutOfNetworkRemaining": "3000.00",
        "ded($)FamilyOutOfNetwork": "6000.00", "ded($)FamilyOutOfNetworkRemaining": "6000.00",
        "coins(%)InNetwork": "20", "coins(%)OutOfNetwork": "40", "copay($)": "25.00",
        "copay($)Specialist": "50.00", "payerID1": "60054", "payerName1": "AETNA",
        "payerTPA": "False", "payerID2": "", "payerName2": "Aetna Inc.",
        "payerPhone": "8006243879", "payerAddress": "PO BOX 981106, EL PASO, TX 79998",
        "payerFax": "8005551234", "payerWebsite": "www.aetna.com", "altName": "",
        "altCategory": "", "altType": "", "altAddress": "", "altPhone": "",
        "primaryCareFacility": "", "pcpLastName": "", "pcpFirstName": "", "pcpNPI": "",
        "pcpAddress": "", "pcpPhone": "", "pcpFax": "",
        "patientAddress": "100 OAK ST, SACRAMENTO, CA 95814",
        "subscriberAddress": "100 OAK ST, SACRAMENTO, CA 95814", "integrexId": "IX1234567",
    }
    data.update(overrides)
    return data


def hmo_coverage() -> dict[str, str]:
    return coverage(**{
        "sub.MemberID": "HM550066077", "payerID1": "87726", "payerName1": "UNITEDHEALTHCARE",
        "planTypeCode": "HM", "planType": "HMO", "coverageEndDate": "2026-12-31",
        "planTypeDescription": "Health Maintenance Organization", "integrexId": "IX7654321",
        "altName": "SUTTER INDEPENDENT PHYSICIANS", "altCategory": "IPA",
        "primaryCareFacility": "SUTTER MEDICAL GROUP", "pcpLastName": "NGUYEN",
        "pcpFirstName": "LINH", "pcpNPI": "1245319599", "pcpPhone": "9164540000",
    })


def request_body(**overrides: str) -> dict[str, str]:
    body = {
        "patientDob": "1970-01-02", "patientFirstName": "JANE", "patientLastName": "DOE",
        "patientSsn": SSN, "patientGender": "F", "sub.MemberID": "",
        "subscriberFirstName": "", "subscriberLastName": "", "subscriberSsn": "",
        "subscriberGender": "", "subscriberDob": "", "billingProviderNpi": "1083052872",
        "beginDos": "2026-10-01", "endDos": "", "serviceType": "30", "payerId": "",
        "payerName": "CA", "employerName": "", "internalAccountNumber1": "ACC1001",
        "internalAccountNumber2": "",
    }
    body.update(overrides)
    return body


@pytest.fixture
def mocked(integrex: Any) -> Any:
    """Integrex's token endpoint, mocked; add the discovery answers per test."""
    oauth.forget(integrex.pk)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(f"{BASE}/auth", json={"access_token": "tok-1", "expires_in": 3599,
                                        "token_type": "bearer", "scope": ""})
        yield rsps
    oauth.forget(integrex.pk)


def drive(ticket: Ticket, steps: int = 10) -> Ticket:
    """Run the ticket's steps now (ignoring the poll interval) until it is final."""
    owner = engine.new_owner()
    for _ in range(steps):
        Ticket.objects.filter(pk=ticket.pk).update(next_poll_at=timezone.now())
        for ticket_id in engine.claim_due(owner, 1):
            engine.run_step(ticket_id, owner)
        ticket.refresh_from_db()
        if not ticket.is_open:
            break
    return ticket
