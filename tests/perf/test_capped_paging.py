"""revcycle.paging.CappedPaginator: the count stops at the cap (or at the asked page), the
pages it shows hold the same rows Django's Paginator would."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.paginator import Paginator

from revcycle.models import Ticket
from revcycle.paging import CappedPaginator
from tests.perf.test_list_query_counts import _tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def ordered(integrex: Any) -> Any:
    _tickets(integrex, "claim_status", 60)
    return Ticket.objects.order_by("-created_at", "-id")


def test_the_count_stops_at_the_cap_and_says_so(ordered):
    paginator = CappedPaginator(ordered, 10, page_number=1, cap=20)
    assert paginator.count == 21 and paginator.capped
    assert paginator.pages_label == "2+" and paginator.count_label == "20+"
    assert paginator.get_page(1).has_next()


def test_a_page_past_the_cap_is_counted_far_enough_and_holds_the_same_rows(ordered):
    capped = CappedPaginator(ordered, 10, page_number=5, cap=20).get_page(5)
    plain = Paginator(ordered, 10).get_page(5)
    assert capped.number == 5
    assert [t.pk for t in capped.object_list] == [t.pk for t in plain.object_list]
    assert capped.has_next()


def test_a_short_list_is_counted_exactly(ordered):
    paginator = CappedPaginator(ordered, 25, page_number=1, cap=100)
    assert paginator.count == 60 and not paginator.capped
    assert paginator.pages_label == "3" and paginator.count_label == "60"
    assert len(paginator.get_page(3).object_list) == 10
