"""Every list screen and its HTMX rows fragment costs at most 10 queries (issue 18), on page
1 and on a later page, with enough rows (60, more than a page) that a query per row shows.

Counted: the SQL statements a request sends, without the transaction control around the
session save (BEGIN IMMEDIATE / COMMIT here, SAVEPOINT / RELEASE inside a test
transaction), which reads and writes no rows. The first request of a session records its
activity: it is made before counting."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.models import ClaimStatusResult
from eligibility.models import Coverage
from followup.models import RecheckPolicy
from payer.models import PayerClaim
from revcycle.models import Batch, Ticket

# transaction=True: no test-wide transaction, so a session save costs what it costs in
# production (no SAVEPOINT and RELEASE counted as queries).
pytestmark = pytest.mark.django_db(transaction=True)
MAX_QUERIES = 10
ROWS = 60
HTMX = {"HTTP_HX_REQUEST": "true"}


def _tickets(connection: Any, kind: str, n: int = ROWS, *, batch: Batch | None = None,
             state: str = "done") -> list[Ticket]:
    today = timezone.localdate()
    facility = connection.facilities.first()
    rows = []
    for i in range(n):
        t = Ticket(kind=kind, facility=facility, connection=connection, batch=batch,
                   request={"accountNumber": f"Q{i:05d}"}, account_number=f"Q{i:05d}",
                   patient_name=f"PAT {i}", payer=f"PAYER {i % 7}", state=state,
                   outcome=("denied", "rejected", "not_found")[i % 3],
                   amount=Decimal(i % 500), service_date=today - timedelta(days=i % 120),
                   finished_at=timezone.now() if state == "done" else None)
        t.fill_summary()
        rows.append(t)
    return Ticket.objects.bulk_create(rows)


def _with_claim_results(tickets: list[Ticket]) -> None:
    ClaimStatusResult.objects.bulk_create(
        ClaimStatusResult(ticket=t, payer_claim_number=f"PCN{t.pk}") for t in tickets)


def _with_coverages(tickets: list[Ticket]) -> None:
    Coverage.objects.bulk_create(
        Coverage(ticket=t, position=p, payer_name1=f"PAYER {p}") for t in tickets
        for p in range(2))


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _counted(client: Any, url: str, htmx: bool) -> tuple[int, Any]:
    headers = HTMX if htmx else {}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries
                  if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]
    assert len(statements) <= MAX_QUERIES, (
        f"{url}: {len(statements)} queries\n" + "\n".join(s[:160] for s in statements))
    return len(statements), response


def _next_page(url: str, response: Any) -> str:
    """The keyset "next" page (revcycle.paging) of a list page."""
    return f"{url}?{response.context['page'].next_query}"


@pytest.fixture
def client_a(client_for: Any, alice: Any) -> Any:
    client = client_for(alice)
    client.get(reverse("claims:status_home"))  # records the session's activity
    return client


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_claim_status_worklist_costs_at_most_10_queries_on_any_page(
        client_a, integrex, htmx):
    _with_claim_results(_tickets(integrex, "claim_status"))
    url = reverse("claims:status_home")
    _, first = _counted(client_a, url, htmx)
    _, later = _counted(client_a, _next_page(url, first), htmx)
    assert len(first.context["page"].object_list) == 50
    assert len(later.context["page"].object_list) == ROWS - 50


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_discovery_worklist_costs_at_most_10_queries_on_any_page(
        client_a, integrex, htmx):
    _with_coverages(_tickets(integrex, "discovery"))
    url = reverse("eligibility:home")
    _, first = _counted(client_a, url, htmx)
    _, later = _counted(client_a, _next_page(url, first), htmx)
    assert len(first.context["page"].object_list) == 50
    assert len(later.context["page"].object_list) == ROWS - 50
    assert "PAYER 1" in later.content.decode()


# 9 on the page: session, user, roles with permissions, second-factor check, count+sum,
# rows, saved views, audit row, session save. The re-check policy and the payer and colleague
# menus are kept a short while in process memory (Django's memory cache): the first request
# of a process (and one a minute after) reads them, 13 queries, and is made before counting.
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_followup_worklist_costs_at_most_10_queries_on_page_1_and_the_next_keyset_page(
        client_a, integrex, htmx):
    RecheckPolicy.get()
    _tickets(integrex, "claim_status")
    url = reverse("followup:worklist")
    client_a.get(url)
    _, first = _counted(client_a, url + "?size=25", htmx)
    first_ids, next_url = _worklist_rows(first)
    assert len(first_ids) == 25 and next_url
    _, later = _counted(client_a, url + html.unescape(next_url), htmx)
    later_ids, _ = _worklist_rows(later)
    assert len(later_ids) == 25 and not set(first_ids) & set(later_ids)


@pytest.mark.parametrize("filters", ["assignee=none", "assignee=me&status=all",
                                     "status=resolved"])
def test_followup_worklist_filtered_by_follow_ups_costs_at_most_10_queries(
        client_a, integrex, alice, filters):
    """The follow-up filters are EXISTS conditions (followup/worklist.py): no statement
    more than the unfiltered page, and no statement per row."""
    from followup.models import FollowUp

    RecheckPolicy.get()
    tickets = _tickets(integrex, "claim_status")
    status = "resolved" if "resolved" in filters else "open"
    FollowUp.objects.bulk_create(FollowUp(ticket=t, assignee=alice if i % 2 else None,
                                          status=status) for i, t in enumerate(tickets))
    url = reverse("followup:worklist")
    client_a.get(url)
    n, first = _counted(client_a, f"{url}?size=25&{filters}", False)
    ids, next_url = _worklist_rows(first)
    assert len(ids) == 25 and next_url
    later_n, _ = _counted(client_a, url + html.unescape(next_url), False)
    assert n == later_n


def test_a_page_that_also_asks_whether_a_worker_runs_stays_within_10_queries(
        client_a, integrex):
    """The "no worker is running" banner is asked at most every 10 s per process: the
    request that asks it pays one statement more, within the budget (roles and
    permissions are read in one statement, revcycle.roles.load_access)."""
    from revcycle.context_processors import clear_stall_cache

    _with_claim_results(_tickets(integrex, "claim_status"))
    clear_stall_cache()
    with CaptureQueriesContext(connection) as ctx:
        _counted(client_a, reverse("claims:status_home"), False)
    assert any("revcycle_enginepump" in q["sql"] for q in ctx.captured_queries)


def _worklist_rows(response: Any) -> tuple[list[str], str]:
    """The ticket ids of the worklist's rows and its "Next page" link, read from the HTML
    (a fragment rendered from a partial carries no response.context)."""
    text = response.content.decode()
    found = re.search(r'<a [^>]*href="([^"]*)" rel="next"', text)
    return re.findall(r'<tr id="ticket-(\d+)"', text), found.group(1) if found else ""


def test_payer_claims_list_costs_at_most_10_queries_on_any_page(
        client_a, payer, encounter, alice):
    from payer import flow as payer_flow
    from tests.payer.helpers import BODY

    for i in range(ROWS):
        payer_flow.create_claim(reference=f"RC-Q{i:05d}", facility=encounter.facility,
                                connection=payer, encounter=encounter, body=dict(BODY),
                                user=alice)
    url = reverse("payer:list")
    _, first = _counted(client_a, url, False)
    _, later = _counted(client_a, _next_page(url, first), False)
    assert len(first.context["page"].object_list) == 50
    assert len(later.context["page"].object_list) == ROWS - 50
    assert PayerClaim.objects.count() == ROWS


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_batch_page_costs_at_most_10_queries_on_any_page(
        client_a, integrex, alice, htmx):
    rows = 160  # the batch page shows 100 rows a page
    batch = Batch.objects.create(kind="claim_status", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="q.csv",
                                 total_rows=rows, ticket_count=rows)
    _with_claim_results(_tickets(integrex, "claim_status", rows, batch=batch,
                                 state="submitted")[:rows // 2])
    url = reverse("claims:batch_detail", args=[batch.pk])
    client_a.get(url)  # the first view of a batch is audited once
    _, first = _counted(client_a, url, htmx)
    _, later = _counted(client_a, _next_page(url, first), htmx)
    assert len(first.context["page"].object_list) == 100
    assert len(later.context["page"].object_list) == rows - 100
