"""A payer claim's status moves only forward (payer-claims-api-integration-guide.md: submitted,
then under review, then approved or rejected; an approved claim is then paid). A late or
repeated message never turns it back, and a second, different final answer is kept for a
person instead of replacing the first (payer.flow._moves_forward, is_conflict, _change)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from payer import flow
from payer.client import ClaimAnswer
from payer.models import PayerClaim
from tests.payer.helpers import queue

pytestmark = pytest.mark.django_db

STATUSES = ["queued", "sending", "unknown", "error", "under_review", "approved", "rejected",
            "paid"]
# Every move allowed, written out rather than computed: each status may go to any status
# after it in this order, but a final answer (approved, rejected, paid) only from approved
# to paid.
FORWARD = {
    "queued": {"sending", "unknown", "error", "under_review", "approved", "rejected", "paid"},
    "sending": {"unknown", "error", "under_review", "approved", "rejected", "paid"},
    "unknown": {"error", "under_review", "approved", "rejected", "paid"},
    "error": {"under_review", "approved", "rejected", "paid"},
    "under_review": {"approved", "rejected", "paid"},
    "approved": {"paid"},
    "rejected": set(),
    "paid": set(),
}
CONFLICTS = {("approved", "rejected"), ("rejected", "approved"), ("rejected", "paid"),
             ("paid", "approved"), ("paid", "rejected")}
PAIRS = list(itertools.product(STATUSES, STATUSES))


@pytest.mark.parametrize(("old", "new"), PAIRS)
def test_a_status_moves_only_forward(old, new):
    assert flow._moves_forward(old, new) is (new in FORWARD[old])


@pytest.mark.parametrize(("old", "new"), PAIRS)
def test_only_a_different_final_answer_after_a_final_answer_is_a_conflict(old, new):
    assert flow.is_conflict(old, new) is ((old, new) in CONFLICTS)


@pytest.mark.parametrize(("old", "new"), [
    ("under_review", "approved"), ("under_review", "rejected"), ("approved", "paid"),
    ("sending", "under_review"), ("approved", "under_review"), ("paid", "approved"),
    ("rejected", "approved"), ("approved", "approved"), ("under_review", "under_review"),
])
def test_an_answer_changes_the_claim_and_its_timeline_only_when_it_moves_forward(
        payer, encounter, alice, old, new):
    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status=old, claim_id="CLM-1")
    claim.refresh_from_db()
    before, events = claim.status_changed_at, claim.events.count()
    changed = flow.apply_answer(claim.pk, ClaimAnswer("CLM-1", new, message="m"), "poll")
    claim.refresh_from_db()
    moved = new in FORWARD[old]
    assert (changed, claim.status) == (moved, new if moved else old)
    assert (claim.status_changed_at > before) is moved
    conflict = (old, new) in CONFLICTS
    assert bool(claim.conflict) is conflict
    assert claim.events.count() == events + (1 if moved or conflict else 0)
    if moved:
        event = claim.events.order_by("-id").first()
        assert (event.status, event.source) == (new, "poll")
        assert event.at >= claim.status_changed_at


def test_the_timeline_keeps_the_moment_the_payer_gave_and_cuts_the_message(
        payer, encounter, alice):
    claim = queue(payer, encounter, alice)
    said = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert flow._change(claim, "under_review", "webhook", "w" * 600, at=said) is True
    event = claim.events.order_by("-id").first()
    assert (event.at, event.message, event.source) == (said, "w" * 500, "webhook")


def test_an_unknown_outcome_is_recorded_once_and_never_over_a_final_answer(
        payer, encounter, alice):
    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending")
    flow.mark_unknown(claim.pk, "read timed out")
    flow.mark_unknown(claim.pk, "an earlier attempt was cut off")
    claim.refresh_from_db()
    notes = [(e.status, e.source, e.message) for e in claim.events.order_by("id")][1:]
    assert (claim.status, notes) == ("unknown", [
        ("unknown", "submit", "Outcome unknown (read timed out); not re-sent.")])
    PayerClaim.objects.filter(pk=claim.pk).update(status="approved")
    flow.mark_unknown(claim.pk, "late")
    claim.refresh_from_db()
    assert (claim.status, claim.events.count()) == ("approved", 2)


def test_a_repeated_approval_keeps_the_amounts_it_does_not_give_and_stores_its_answer(
        payer, encounter, alice):
    from decimal import Decimal

    claim = queue(payer, encounter, alice)
    PayerClaim.objects.filter(pk=claim.pk).update(status="sending", claim_id="CLM-1")
    flow.apply_answer(claim.pk, ClaimAnswer(
        "CLM-1", "approved", expected_payment=Decimal("1000.00"),
        patient_responsibility=Decimal("250.00"), raw={"first": 1}), "submit")
    again = {"status": "approved", "claim": {"claim_id": "CLM-1"}}
    assert flow.apply_answer(claim.pk, ClaimAnswer("CLM-1", "approved", raw=again),
                             "poll") is False
    claim.refresh_from_db()
    assert (claim.expected_payment, claim.patient_responsibility, claim.response) == (
        Decimal("1000.00"), Decimal("250.00"), again)
    flow.apply_answer(claim.pk, ClaimAnswer("CLM-1", "approved",
                                            patient_responsibility=Decimal("0")), "poll")
    claim.refresh_from_db()
    assert claim.patient_responsibility == Decimal("0")  # none to pay is an answer too
