"""Shared bits of the payer tests: the guide's sample answers and a way to run the engine."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from payer import flow as payer_flow
from revcycle import engine
from revcycle.models import Ticket

BASE = "https://payer.test/api"
BODY = {"patient_name": "JANE DOE", "insurance_id": "BC-789-456", "diagnosis_code": "J20.9",
        "amount": "1250.00", "procedure_code": "99213", "date_of_service": "2026-01-05",
        "priority": "medium", "emergency": False}

APPROVED = {
    "success": True, "message": "Claim submitted successfully",
    "claim": {"claim_id": "CLM-20241003-ABC123", "status": "approved", "amount": 1250.00,
              "coverage_validated": True, "auto_approved": True, "expected_payment": 1000.00,
              "patient_responsibility": 250.00, "notes": "Auto-approved based on policy coverage"},
    "status": "approved", "auto_approved": True, "processing_time_ms": 1250,
}
UNDER_REVIEW = {
    "success": True, "message": "Claim submitted for manual review",
    "claim": {"claim_id": "CLM-20241003-DEF456", "status": "under_review",
              "coverage_validated": False,
              "coverage_message": "Procedure code 15776 is excluded from coverage",
              "auto_approved": False,
              "review_reason": "Procedure not covered under patient's current plan",
              "estimated_review_time": "24-48 hours", "reviewer_contact": "claims@payor.com"},
    "status": "under_review", "auto_approved": False,
}
REJECTED = {
    "success": True, "message": "Claim rejected",
    "claim": {"claim_id": "CLM-20241003-GHI789", "status": "rejected",
              "rejection_reason": "Service not covered"},
    "status": "rejected", "auto_approved": False,
}
NOT_FOUND = {
    "error": "Insurance ID BC-999-999 not found or not covered by this payor",
    "error_code": "INSURANCE_NOT_FOUND", "claim_id": None,
    "suggestions": ["Verify insurance ID format", "Check if patient is enrolled with this payor",
                    "Contact payor customer service"],
}


def queue(connection: Any, encounter: Any, user: Any, body: dict[str, Any] | None = None,
          reference: str = "RC-TEST0001") -> Any:
    claim, _ = payer_flow.create_claim(reference=reference, facility=encounter.facility,
                                       connection=connection, encounter=encounter,
                                       body=dict(body or BODY), user=user)
    return claim


def step(claim: Any) -> None:
    """Run one engine step for the claim's ticket, due or not."""
    Ticket.objects.filter(pk=claim.ticket_id).update(next_poll_at=timezone.now())
    owner = engine.new_owner()
    assert claim.ticket_id in engine.claim_due(owner, 50)
    engine.run_step(claim.ticket_id, owner)
    claim.refresh_from_db()
