from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from followup import worklist
from followup.filters import WorklistFilter
from followup.models import FollowUp, RecheckPolicy
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


def ids(user):
    return set(worklist.open_items(worklist.needing_person(user)).values_list("pk", flat=True))


def test_denied_rejected_and_not_found_claims_need_a_person(alice, integrex):
    wanted = {make_ticket(integrex, outcome=o).pk for o in ("denied", "rejected", "not_found")}
    paid = make_ticket(integrex, outcome="paid")
    assert ids(alice) == wanted
    assert paid.pk not in ids(alice)


def test_a_pending_claim_joins_only_past_the_threshold(alice, integrex):
    RecheckPolicy.objects.update_or_create(pk=1, defaults={"pending_worklist_days": 30})
    young = make_ticket(integrex, outcome="pending", age_days=10)
    old = make_ticket(integrex, outcome="pending", age_days=31)
    assert old.pk in ids(alice)
    assert young.pk not in ids(alice)


def test_discovery_with_no_coverage_needs_a_person(alice, integrex):
    none = make_ticket(integrex, kind="discovery", outcome="none_found")
    found = make_ticket(integrex, kind="discovery", outcome="found")
    assert none.pk in ids(alice) and found.pk not in ids(alice)


def test_smart_invoices_not_billed_need_a_person(alice, smart, settings):
    settings.SMART_NOT_BILLED_HOURS = 24
    cancelled = make_ticket(smart, kind="smart_invoice_status", outcome="cancelled")
    billed = make_ticket(smart, kind="smart_invoice_status", outcome="billed")
    stale = make_ticket(smart, kind="smart_invoice_status", state="processing", outcome="",
                        age_days=2)
    fresh = make_ticket(smart, kind="smart_invoice_status", state="processing", outcome="",
                        age_days=0.1)
    assert {cancelled.pk, stale.pk} <= ids(alice)
    assert not {billed.pk, fresh.pk} & ids(alice)


def test_payer_claims_under_review_past_the_estimate_need_a_person(alice, payer):
    RecheckPolicy.objects.update_or_create(pk=1, defaults={"payer_review_days": 14})
    late = make_ticket(payer, kind="payer_claim", state="processing", outcome="", age_days=15)
    recent = make_ticket(payer, kind="payer_claim", state="processing", outcome="", age_days=2)
    rejected = make_ticket(payer, kind="payer_claim", outcome="rejected")
    approved = make_ticket(payer, kind="payer_claim", outcome="approved")
    assert {late.pk, rejected.pk} <= ids(alice)
    assert not {recent.pk, approved.pk} & ids(alice)


def test_tickets_in_error_need_a_person_whatever_the_domain(alice, integrex, smart):
    failed = make_ticket(smart, kind="smart_member", state="failed", outcome="error")
    expired = make_ticket(integrex, state="expired", outcome="error")
    open_ticket = make_ticket(integrex, state="queued", outcome="")
    assert {failed.pk, expired.pk} <= ids(alice)
    assert open_ticket.pk not in ids(alice)


def test_a_resolved_item_leaves_the_open_worklist(alice, integrex):
    ticket = make_ticket(integrex)
    FollowUp.for_ticket(ticket).resolve(alice, "appealed by phone")
    assert ticket.pk not in ids(alice)


def test_other_facilities_items_are_invisible(alice, bob, integrex):
    make_ticket(integrex)
    assert ids(bob) == set()
    assert len(ids(alice)) == 1


@pytest.mark.parametrize("days, bucket", [(0, "0-30"), (30, "0-30"), (31, "31-60"),
                                          (60, "31-60"), (61, "61-90"), (90, "61-90"),
                                          (91, "90+"), (400, "90+"), (-3, "0-30")])
def test_aging_buckets_count_days_from_the_date_of_service(days, bucket):
    assert worklist.bucket_of(days) == bucket


def test_age_falls_back_to_when_the_request_was_made(integrex, st_marys):
    today = timezone.localdate()
    with_dos = make_ticket(integrex, service_date=today - timedelta(days=45), age_days=2)
    without = make_ticket(integrex, service_date=None, age_days=12)
    assert worklist.age_days(with_dos, today) == 45
    assert worklist.age_days(without, today) == 12


def test_the_age_filter_selects_by_bucket_in_the_database(alice, integrex):
    today = timezone.localdate()
    make_ticket(integrex, service_date=today - timedelta(days=45), account="A45")
    make_ticket(integrex, service_date=today - timedelta(days=95), account="A95")
    make_ticket(integrex, service_date=None, age_days=5, account="A5")
    for bucket, expected in (("31-60", {"A45"}), ("90+", {"A95"}), ("0-30", {"A5"})):
        filters = WorklistFilter({"age": bucket}, worklist.needing_person(alice))
        qs = filters.qs
        assert set(qs.values_list("account_number", flat=True)) == expected


@pytest.mark.django_db
def test_saving_the_recheck_policy_is_read_at_once_by_this_process():
    # The worklist reads the policy from a short-lived cache; saving it must not leave the
    # old one there.
    policy = RecheckPolicy.get()
    assert RecheckPolicy.cached().first_after_days == policy.first_after_days
    policy.first_after_days = policy.first_after_days + 7
    policy.save()
    assert RecheckPolicy.cached().first_after_days == policy.first_after_days
