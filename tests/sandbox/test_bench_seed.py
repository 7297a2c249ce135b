"""The bench's seeder (sandbox/benchseed.py) makes what production makes: every payer claim
has its `payer_claim` engine ticket (claims without one gave SQLite's planner statistics no
production database has, and the follow-up worklist a scan per row), and the biller who
runs the screens owns the batches (billers see only their own batches)."""

from __future__ import annotations

from typing import Any

import pytest

from claims.models import ClaimStatusResult
from eligibility.models import Coverage
from payer.models import PayerClaim
from revcycle.models import Ticket
from sandbox import benchkit as kit
from sandbox import benchseed
from sandbox.management.commands.bench import bench_biller

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: Any) -> kit.World:
    made = kit.make_world("http://127.0.0.1:9/sandbox", poll_interval=15, concurrency=16)
    return kit.World(bench_biller(made), made.facility, made.connection)


def test_each_payer_claim_has_its_own_payer_claim_ticket(world):
    seeded = benchseed.seed(world, 50, report=lambda _: None, payer_claims=7)
    claims = list(PayerClaim.objects.select_related("ticket"))
    assert seeded.counts["payer claims"] == len(claims) == 7
    assert all(c.ticket is not None and c.ticket.kind == "payer_claim" for c in claims)
    assert len({c.ticket_id for c in claims}) == 7
    assert ClaimStatusResult.objects.count() == Ticket.objects.filter(
        kind="claim_status").count() == 50


def test_the_seeded_batches_belong_to_the_biller_who_can_open_them(world, client_for):
    from django.urls import reverse

    seeded = benchseed.seed(world, 20, report=lambda _: None, payer_claims=0)
    assert world.user.groups.filter(name="biller").exists()
    response = client_for(world.user).get(
        reverse("claims:batch_detail", args=[seeded.batches[0].pk]))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 20


def test_a_seed_after_other_tickets_of_its_kind_gives_results_only_to_its_own(world):
    # A whole `make bench` runs the batch section first: its 1,000 claim-status tickets
    # already have their results when the screens section seeds (an IntegrityError on
    # the result's one-per-ticket key stopped the screens and the export on PostgreSQL).
    benchseed.seed(world, 10, report=lambda _: None, payer_claims=0)

    seeded = benchseed.seed(world, 20, report=lambda _: None, payer_claims=0)

    assert seeded.counts["claim results"] == 20 and seeded.counts["coverages"] == 4
    assert ClaimStatusResult.objects.count() == Ticket.objects.filter(
        kind="claim_status").count() == 30
    assert Coverage.objects.count() == Ticket.objects.filter(kind="discovery").count() == 6
