"""Cells the list screens draw on every row, at a fraction of the cost of the general tags.

A worklist page draws 50 to 100 rows, and a profile of the claim-status page put most of
its time in the template. `{% url %}` resolves its pattern on every row (reverse() walks
the resolver each time); `row_url` reverses once per page with a placeholder id and puts
each row's id in its place. Django's `date` filter builds a DateFormat object per value and
reads the format through the localisation machinery; `ymd` and `ymd_hm` format directly.
Both write exactly the bytes the general tags wrote (tests/core/test_row_cells.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse

register = template.Library()

# An id no row has, reversed once per page and per URL name, then replaced by each row's.
PLACEHOLDER = 987654321987654321
CACHE_KEY = "revcycle.rows.url_patterns"


def _patterns(context: Context) -> dict[str, tuple[str, str]]:
    """The page's reversed patterns, kept in the render context's bottom layer: an
    `{% include %}` (a row's cells) pushes a layer of its own, and the cache must outlive
    it to serve every row of the page. A new render (the next request) starts empty."""
    bottom: Any = context.render_context.dicts[0]  # typed for the include nodes' keys
    patterns: dict[str, tuple[str, str]] = bottom.setdefault(CACHE_KEY, {})
    return patterns


@register.simple_tag(takes_context=True)
def row_url(context: Context, name: str, pk: Any) -> str:
    """`{% url name pk %}` for a URL whose only argument is an integer id."""
    patterns = _patterns(context)
    if name not in patterns:
        before, _, after = reverse(name, args=[PLACEHOLDER]).partition(str(PLACEHOLDER))
        patterns[name] = (before, after)
    before, after = patterns[name]
    return f"{before}{int(pk)}{after}"


def _ymd(value: date) -> str:
    # Django's "Y" pads the year to four digits; strftime's %Y does not on glibc (year 5 is
    # "5"), so the year is formatted here and the rest by strftime.
    return f"{value.year:04d}{value.strftime('-%m-%d')}"


@register.filter(expects_localtime=True)
def ymd(value: Any) -> str:
    """`|date:"Y-m-d"`: blank for no value."""
    if isinstance(value, date):
        return _ymd(value)
    return ""


@register.filter(expects_localtime=True)
def ymd_hm(value: Any) -> str:
    """`|date:"Y-m-d H:i"` of a datetime, in the current time zone (expects_localtime:
    the template engine converts it first, as it does for `date`)."""
    if isinstance(value, datetime):
        return f"{_ymd(value)}{value.strftime(' %H:%M')}"
    return ""  # a date alone is refused by `date` with a time format; no screen sends one
