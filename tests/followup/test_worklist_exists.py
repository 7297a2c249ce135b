"""The follow-up worklist asks about follow-ups and conflicted payer claims with EXISTS /
NOT EXISTS (followup/worklist.py, payer/worklist.py), never with a join: LEFT JOINs inside
the OR of the sources made PostgreSQL join before it could stop at the cap (the summary's
capped count: 210 to 232 ms with a million tickets, 26 to 42 ms as EXISTS). The rows each
filter picks are the ones the joins picked."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from followup.filters import WorklistFilter
from followup.models import FollowUp
from followup.worklist import needing_person, with_rows
from payer.models import PayerClaim
from tests.perf.test_list_query_counts import _tickets

pytestmark = pytest.mark.django_db


def _filtered(user: Any, **params: str) -> Any:
    request = RequestFactory().get("/followup/", params)
    request.user = user
    return WorklistFilter(request.GET, needing_person(user), request=request).qs


@pytest.fixture
def worked(alice: Any, maya: Any, integrex: Any) -> dict[str, Any]:
    """Six denied tickets: two untouched, one assigned to Alice, one to Maya, one held by
    nobody but noted (a follow-up without an assignee), one resolved."""
    t = _tickets(integrex, "claim_status", 6)
    FollowUp.objects.create(ticket=t[2], assignee=alice)
    FollowUp.objects.create(ticket=t[3], assignee=maya)
    FollowUp.objects.create(ticket=t[4])
    FollowUp.objects.create(ticket=t[5], assignee=alice, status=FollowUp.Status.RESOLVED)
    return {"tickets": t, "alice": alice, "maya": maya}


def _ids(rows: Any) -> set[int]:
    return set(rows.values_list("pk", flat=True))


def test_open_items_are_those_without_a_follow_up_or_with_an_open_one(worked):
    t = worked["tickets"]
    assert _ids(_filtered(worked["alice"])) == {x.pk for x in t[:5]}


def test_resolved_shows_only_resolved_follow_ups(worked):
    assert _ids(_filtered(worked["alice"], status="resolved")) == {worked["tickets"][5].pk}


def test_assigned_to_me_a_colleague_and_nobody(worked):
    t, alice, maya = worked["tickets"], worked["alice"], worked["maya"]
    assert _ids(_filtered(alice, assignee="me", status="all")) == {t[2].pk, t[5].pk}
    assert _ids(_filtered(alice, assignee=str(maya.pk))) == {t[3].pk}
    assert _ids(_filtered(alice, assignee="none")) == {t[0].pk, t[1].pk, t[4].pk}


def test_a_conflicted_payer_claim_puts_its_ticket_on_the_worklist(alice, payer, st_marys):
    conflicted, quiet = _tickets(payer, "payer_claim", 2, state="done")
    for ticket, conflict_at in ((conflicted, timezone.now()), (quiet, None)):
        ticket.outcome = "approved"
        ticket.save(update_fields=["outcome"])
        PayerClaim.objects.create(ticket=ticket, facility=st_marys, connection=payer,
                                  reference=f"R{ticket.pk}", diagnosis_code="J45.909",
                                  amount=1, conflict_at=conflict_at)
    assert _ids(_filtered(alice)) == {conflicted.pk}


def test_the_worklist_page_query_reads_follow_ups_and_claims_by_exists_not_by_join(worked):
    rows = _filtered(worked["alice"], assignee="none")
    where = str(rows.query).split(" WHERE ", 1)[1]
    assert "EXISTS" in where
    assert "followup_followup" not in str(rows.query).split(" WHERE ", 1)[0]
    assert "claims_payerclaim" not in str(rows.query).split(" WHERE ", 1)[0]
    # The page itself still draws each row's follow-up and assignee (select_related).
    page = with_rows(rows)
    assert "LEFT OUTER JOIN" in str(page.query)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="asserts SQLite's query plan")
def test_each_ticket_costs_one_index_probe_of_follow_ups_and_of_claims(alice, payer, st_marys):
    tickets = _tickets(payer, "payer_claim", 40, state="done")
    PayerClaim.objects.bulk_create(
        PayerClaim(ticket=t, facility=st_marys, connection=payer, reference=f"R{t.pk}",
                   diagnosis_code="J45.909", amount=1,
                   conflict_at=timezone.now() if i % 20 == 0 else None)
        for i, t in enumerate(tickets))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    plan = _filtered(alice).explain()
    assert "USING INDEX sqlite_autoindex_followup_followup_1 (ticket_id=?)" in plan, plan
    assert "USING INDEX sqlite_autoindex_claims_payerclaim_2 (ticket_id=?)" in plan, plan
