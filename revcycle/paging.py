"""Numbered pages over lists that may hold a million rows: the count stops early.

Django's Paginator counts every row (a COUNT(*) over the user's whole worklist) on every
request, and the worklists' rows fragments are polled every few seconds by every open tab.
Here the count reads at most `COUNT_CAP` rows, or as many as the asked page needs; past
that the pager says "200+" pages, and the next page is always there to ask for."""

from __future__ import annotations

from math import ceil
from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A Paginator whose count is exact up to max(COUNT_CAP, the asked page's last row) and
    says so (`capped`) when the list goes on past it."""

    def __init__(self, object_list: Any, per_page: int, *, page_number: int = 1,
                 cap: int = COUNT_CAP) -> None:
        super().__init__(object_list, per_page)
        # Enough to show the asked page and whether a next one exists.
        self.limit = max(cap, page_number * per_page) + 1

    @cached_property
    def count(self) -> int:
        # A sliced queryset counts in a subquery: SELECT COUNT(*) FROM (... LIMIT n).
        rows: Any = self.object_list
        return int(rows[:self.limit].count())

    @property
    def capped(self) -> bool:
        return self.count >= self.limit

    @property
    def pages_label(self) -> str:
        """"7", or "200+" when the count stopped early."""
        if self.capped:
            return f"{(self.limit - 1) // self.per_page:,}+"
        return f"{max(1, ceil(self.count / self.per_page)):,}"

    @property
    def count_label(self) -> str:
        return f"{self.limit - 1:,}+" if self.capped else f"{self.count:,}"
