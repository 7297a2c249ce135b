"""Sample claim-info answers and helpers to drive the engine one step at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import responses
from django.utils import timezone

from revcycle import engine
from revcycle.models import Ticket

BASE = "https://integrex.test/api/v2"
AUTH_URL = f"{BASE}/auth"
CLAIM_URL = f"{BASE}/claim-info"
REMOTE_ID = "9326db0d-eeee-4c28-908a-b133033d3ed2"

CLAIM_LEVEL: dict[str, Any] = {
    "internalAccountNumber": "ACC1001", "internalAccountNumber2": "ARCDELECH111274",
    "patientLastName": "DOE", "patientFirstName": "JANE", "subID": "A0000000",
    "billingEntityName": "ST MARYS HOSPITAL", "responseDate": "2026-11-20",
    "payerID": "AETNA", "payerContactName": "AETNA CLAIMS", "payerContactPhone": "8005551234",
    "dateOfService": "2026-10-01", "payerClmNo": "PCN-778899", "claimReceiptDate": "2026-10-05",
    "chargeAmt": "1250.00", "paymentAmt": "0.00", "adjudicationDate": "2026-10-20",
    "checkDate": "", "checkNumber": "", "checkStatus": "", "dateCheckCashed": "null",
    "categoryCode": "F2", "statusCode": "65", "categoryDescription": "Finalized/Denial",
    "statusDescription": "Claim/line has been denied",
    "authorizationCaseld": "AUTH-55", "authorizationDescription": "Inpatient",
    "integrexId": "IGX-0001",
}


def denied_lines() -> list[dict[str, Any]]:
    """A denied claim with two service lines, as a list (one object per line)."""
    return [
        CLAIM_LEVEL | {"svcLine": 1, "procedureCdQual": "HC", "procedureCd": "99213",
                       "revenueCd": "0450", "svcLnQty": 1, "allowedAmount": "0.00",
                       "coInsuranceAmount": "0", "coPaymentAmount": "0",
                       "nonCoveredAmount": "900.00", "reasonSourceCd1": "UHC77",
                       "reasonSourceCdDescTxt1": "Payer remark text",
                       "reasonSourceCd2": "N290", "reasonSourceCdDescTxt2": "",
                       "reasonSourceCd3": "16",
                       "reasonSourceCdDescTxt3": "Claim lacks information"},
        CLAIM_LEVEL | {"svcLine": 2, "procedureCdQual": "HC", "procedureCd": "85025",
                       "revenueCd": "0300", "svcLnQty": "2", "allowedAmount": "0.00",
                       "coInsuranceAmount": "", "coPaymentAmount": "null",
                       "nonCoveredAmount": "350.00", "reasonSourceCd3": "16"},
    ]


def paid_object() -> dict[str, Any]:
    """A paid claim as a single object (no list)."""
    return CLAIM_LEVEL | {"categoryCode": "F1", "statusCode": "1", "paymentAmt": "1000.00",
                          "checkNumber": "EFT12345", "checkDate": "2026-10-21",
                          "svcLine": 1, "procedureCd": "99213", "svcLnQty": "1",
                          "allowedAmount": "1000.00"}


def mock_token(rsps: responses.RequestsMock, token: str = "tok-1") -> None:
    rsps.add(responses.POST, AUTH_URL,
             json={"access_token": token, "expires_in": 3599, "token_type": "bearer"})


def make_due(ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=1))


def step(ticket: Ticket, owner: str = "test-owner") -> Ticket:
    """Run the ticket's next step now, as a worker would; return it refreshed."""
    make_due(ticket)
    claimed = engine.claim_due(owner, 10)
    assert ticket.pk in claimed
    engine.run_step(ticket.pk, owner)
    ticket.refresh_from_db()
    return ticket


def run_to_end(ticket: Ticket, max_steps: int = 10) -> Ticket:
    for _ in range(max_steps):
        if not ticket.is_open:
            return ticket
        ticket = step(ticket)
    return ticket
