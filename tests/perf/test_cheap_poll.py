"""A poll of a list whose rows did not change is answered 204 after one light read (no
count, no joins, no template); a changed ticket makes the next poll draw the rows again
(revcycle/polling.py, `unchanged`)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from revcycle.models import Batch, Ticket
from tests.perf.test_list_query_counts import TRANSACTION_CONTROL, _tickets

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


def _poll(client: Any, url: str, seen: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **HTMX, HTTP_X_POLL="1", HTTP_X_POLL_SEEN=seen)
    return response, [q["sql"] for q in ctx.captured_queries
                      if not q["sql"].upper().startswith(TRANSACTION_CONTROL)]


def _seen_in_page(response: Any) -> str:
    """The fingerprint the polling element sends back, read from its hx-headers."""
    found = re.search(r"hx-headers='([^']*)'", response.content.decode())
    assert found, "the fragment does not poll"
    return json.loads(found.group(1))["X-Poll-Seen"]


@pytest.mark.parametrize(("kind", "name"), [("claim_status", "claims:status_home"),
                                            ("discovery", "eligibility:home")])
def test_an_unchanged_worklist_poll_answers_204_after_one_light_read(
        client_for, alice, integrex, kind, name):
    tickets = _tickets(integrex, kind, 60, state="submitted")
    client = client_for(alice)
    url = reverse(name)
    fragment = client.get(url, **HTMX)
    seen = _seen_in_page(fragment)
    assert seen == fragment["X-Poll-Seen"]

    response, statements = _poll(client, url, seen)
    assert response.status_code == 204 and response.content == b""
    # Session, user, roles and permissions, then the page's ids, states and update times.
    assert len(statements) <= 5, statements
    page_reads = [s for s in statements if '"revcycle_ticket"' in s]
    assert len(page_reads) == 1 and "COUNT(" not in page_reads[0].upper()
    assert "JOIN" not in page_reads[0].upper() or "facility" in page_reads[0]

    newest = Ticket.objects.get(pk=tickets[-1].pk)
    newest.state = Ticket.State.DONE
    newest.save()
    changed, statements = _poll(client, url, seen)
    assert changed.status_code == 200
    assert f'data-ticket="{newest.pk}" data-state="done"' in changed.content.decode()
    assert changed["X-Poll-Seen"] != seen
    assert any("COUNT(" in s.upper() for s in statements)  # the count is read again


def test_a_poll_without_a_fingerprint_draws_the_rows(client_for, alice, integrex):
    _tickets(integrex, "claim_status", 5, state="submitted")
    client = client_for(alice)
    response = client.get(reverse("claims:status_home"), **HTMX, HTTP_X_POLL="1")
    assert response.status_code == 200 and response.content.decode().count("data-ticket=") == 5


def test_an_unchanged_batch_poll_reads_only_the_open_tickets_and_answers_204(
        client_for, alice, integrex):
    batch = Batch.objects.create(kind="claim_status", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="p.csv",
                                 total_rows=150, ticket_count=150)
    tickets = _tickets(integrex, "claim_status", 150, batch=batch, state="submitted")
    client = client_for(alice)
    url = reverse("claims:batch_detail", args=[batch.pk])
    client.get(url)  # the first view of a batch is audited
    seen = _seen_in_page(client.get(url, **HTMX))

    response, statements = _poll(client, url, seen)
    assert response.status_code == 204
    grouped = [s for s in statements if "GROUP BY" in s.upper()]
    # Only the open states are counted: the done tickets are not read.
    assert len(grouped) == 1 and "IN ('queued', 'submitted', 'processing')" in grouped[0]

    last = Ticket.objects.get(pk=tickets[-1].pk)  # not on page 1: only the counts move
    Ticket.objects.filter(pk=last.pk).update(state=Ticket.State.DONE,
                                             updated_at=timezone.now())
    changed, _ = _poll(client, url, seen)
    assert changed.status_code == 200
    text = changed.content.decode()
    assert '<b data-count="done">1</b>' in text and '<b data-count="processing">149</b>' in text


def test_a_batch_page_counts_only_its_tickets_not_done_and_takes_its_total_from_the_batch(
        client_for, alice, integrex):
    batch = Batch.objects.create(kind="claim_status", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="d.csv",
                                 total_rows=120, ticket_count=120)
    tickets = _tickets(integrex, "claim_status", 120, batch=batch, state="done")
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[:3]]).update(state="failed")
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[3:5]]).update(state="queued")
    client = client_for(alice)
    url = reverse("claims:batch_detail", args=[batch.pk])
    client.get(url)  # the first view of a batch is audited
    with CaptureQueriesContext(connection) as ctx:
        text = client.get(url, **HTMX).content.decode()
    counted = [q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"].upper()]
    # One count, of the states other than done: the 115 done tickets are not read.
    assert len(counted) == 1 and "'done'" not in counted[0], counted
    assert "'failed'" in counted[0] and "'expired'" in counted[0]
    assert '<b data-count="done">115</b>' in text and '<b data-count="failed">3</b>' in text
    assert '<b data-count="queued">2</b>' in text and '<b data-count="total">120</b>' in text


def test_the_batch_page_and_its_poll_compute_one_fingerprint(client_for, alice, integrex):
    """The fingerprint the page carries is the one the poll computes (batch_views._fingerprint):
    an unchanged page polled at once is answered 204, on page 1 and on the next page."""
    batch = Batch.objects.create(kind="claim_status", facility=integrex.facilities.first(),
                                 connection=integrex, created_by=alice, filename="f.csv",
                                 total_rows=130, ticket_count=130)
    _tickets(integrex, "claim_status", 130, batch=batch, state="submitted")
    client = client_for(alice)
    url = reverse("claims:batch_detail", args=[batch.pk])
    client.get(url)
    first = client.get(url, **HTMX)
    later_url = f"{url}?{first.context['page'].next_query}"
    later = client.get(later_url, **HTMX)
    assert _seen_in_page(first) != _seen_in_page(later)
    assert _poll(client, url, _seen_in_page(first))[0].status_code == 204
    assert _poll(client, later_url, _seen_in_page(later))[0].status_code == 204
    assert _poll(client, later_url, _seen_in_page(first))[0].status_code == 200
