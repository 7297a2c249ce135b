"""revcycle.paging: keyset pages walk a list in its order, every row once, forwards and
back, whatever the sort (ties, NULLs, mixed directions); the count stops at the cap; and the
list screens page with it, keeping their filters and their facility's rows."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from django.utils import timezone

from claims.filters import NULLABLE_SORT_KEYS, SORTS
from revcycle.models import Ticket
from revcycle.paging import KeysetPaginator, capped_count
from tests.perf.test_list_query_counts import _tickets, _with_claim_results

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(integrex: Any) -> list[Ticket]:
    made = _tickets(integrex, "claim_status", 60)
    # Ties on every sort key: a third share one request time, half have no claim result
    # (a NULL date of service on the "service" sort).
    Ticket.objects.filter(pk__in=[t.pk for t in made[:20]]).update(created_at=timezone.now())
    _with_claim_results(made[::2])
    return made


def _walk(rows: Any, order: tuple[str, ...], size: int) -> tuple[list[list[int]], Any]:
    """Every page from the first by its "next" cursor; then back by "previous"."""
    paginator = KeysetPaginator(rows, order, size, nullable=NULLABLE_SORT_KEYS)
    pages, page = [], paginator.page()
    while True:
        pages.append([t.pk for t in page])
        if not page.has_next:
            return pages, (paginator, page)
        page = paginator.page(after=page.next_cursor)


@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_pages_hold_every_row_once_in_the_sorts_order(tickets, sort):
    rows = Ticket.objects.select_related("claim_result")
    everything = list(KeysetPaginator(rows, SORTS[sort], 1000, nullable=NULLABLE_SORT_KEYS)
                      .page())
    assert len(everything) == 60
    pages, (paginator, last) = _walk(rows, SORTS[sort], 7)
    assert [pk for page in pages for pk in page] == [t.pk for t in everything]
    assert [len(p) for p in pages] == [7] * 8 + [4]
    # Back from the last page by "previous": the same pages in reverse.
    back, page = [], last
    while page.has_previous:
        before = parse_qs(page.previous_query).get("before")
        page = paginator.page(before=before[0]) if before else paginator.page()
        back.append([t.pk for t in page])
    assert back == pages[-2::-1]


def test_a_page_says_which_rows_it_shows_and_its_links_keep_the_filters(tickets):
    rows = Ticket.objects.all()
    paginator = KeysetPaginator(rows, ("-created_at", "-id"), 25,
                                params={"payer": "PAYER 1", "after": "x", "page": "3"})
    second = paginator.page(after=paginator.page().next_cursor)
    assert (second.first_row, second.last_row, second.range_label) == (26, 50, "26–50")
    assert second.count == 60 and second.count_label == "60"
    assert second.next_query.startswith("payer=PAYER+1&after=")
    assert "page=" not in second.next_query and second.first_query == "payer=PAYER+1"


def test_a_cursor_the_list_did_not_write_shows_the_first_page_and_says_so(tickets):
    paginator = KeysetPaginator(Ticket.objects.all(), ("-created_at", "-id"), 10)
    first = [t.pk for t in paginator.page()]
    for bad in ("garbage", "[0]", '[0,"not a date",5]', '[0,"2026-01-01T00:00:00",0]',
                '[0,"2026-01-01T00:00:00",99999999999999999999]', '[0,null,5]',
                '[-1,"2026-01-01T00:00:00",5]'):
        page = paginator.page(after=bad)
        assert [t.pk for t in page] == first, bad
        assert page.notes and "first page" in page.notes[0]


def test_the_count_stops_at_the_cap_and_says_so(tickets):
    assert capped_count(Ticket.objects.all(), cap=20) == (20, True)
    assert capped_count(Ticket.objects.all(), cap=100) == (60, False)
    page = KeysetPaginator(Ticket.objects.all(), ("-created_at", "-id"), 10, cap=20).page()
    assert page.count_label == "more than 20" and page.has_next


# The screens -------------------------------------------------------------------------


def _ids(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-ticket="(\d+)"', response.content.decode())]


def _next(response: Any) -> str:
    found = re.search(r'<a [^>]*href="([^"]*)" rel="next"', response.content.decode())
    assert found, "no Next link"
    return html.unescape(found.group(1))


def test_claim_worklist_page_2_shows_rows_51_to_100_keeps_filters_and_only_its_facility(
        client_for, alice, integrex, lakeside):
    mine = _tickets(integrex, "claim_status", 200)
    theirs = _tickets(integrex, "claim_status", 60)
    Ticket.objects.filter(pk__in=[t.pk for t in theirs]).update(facility=lakeside)
    client = client_for(alice)
    url = reverse("claims:status_home") + "?outcome=denied"
    expected = [t.pk for t in Ticket.objects.filter(facility=integrex.facilities.first(),
                                                    outcome="denied")
                .order_by("-created_at", "-id")]
    first = client.get(url)
    second = client.get(reverse("claims:status_home") + _next(first))
    text = second.content.decode()
    assert "outcome=denied" in _next(first)
    assert len(expected) == 67 and _ids(first) + _ids(second) == expected
    assert not set(_ids(first) + _ids(second)) & {t.pk for t in theirs}
    assert "Rows 1–50 of 67" in first.content.decode()
    assert "Rows 51–67 of 67" in text and 'rel="prev"' in text

    everything = client.get(reverse("claims:status_home"))
    page_2 = client.get(reverse("claims:status_home") + _next(everything))
    assert "Rows 51–100 of 200" in page_2.content.decode()
    mine_in_order = [t.pk for t in Ticket.objects.filter(facility=integrex.facilities.first())
                     .order_by("-created_at", "-id")]
    assert _ids(page_2) == mine_in_order[50:100] and len(mine) == len(mine_in_order)


@pytest.mark.parametrize("name", ["eligibility:home", "payer:list"])
def test_discovery_and_payer_lists_page_by_cursor(client_for, alice, integrex, payer,
                                                    encounter, name):
    if name == "payer:list":
        from payer import flow as payer_flow
        from tests.payer.helpers import BODY

        for i in range(60):
            payer_flow.create_claim(reference=f"RC-K{i:05d}", facility=encounter.facility,
                                    connection=payer, encounter=encounter, body=dict(BODY),
                                    user=alice)
    else:
        _tickets(integrex, "discovery", 60)
    client = client_for(alice)
    first = client.get(reverse(name))
    second = client.get(reverse(name) + _next(first))
    one, two = first.context["page"], second.context["page"]
    assert len(one.object_list) == 50 and len(two.object_list) == 10
    assert not {r.pk for r in one} & {r.pk for r in two}
    assert (two.first_row, two.last_row) == (51, 60)
    assert json.loads(second.wsgi_request.GET["after"])[0] == 50
