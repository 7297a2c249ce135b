"""The bench's seeder (sandbox/benchseed.py) makes what production makes: every payer claim
has its `payer_claim` engine ticket (claims without one gave SQLite's planner statistics no
production database has, and the follow-up worklist a scan per row), and the biller who
runs the screens owns the batches (billers see only their own batches)."""

from __future__ import annotations

from typing import Any

import pytest

from claims.models import ClaimStatusResult
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
