"""The one filter layer every list shares: a django-filter FilterSet that ignores each bad
value on its own and says so, so a list and its CSV export read a query string the same way
and crafted parameters (NaN, Infinity, 1e999, ids past 2^63, unknown choices) never
reach the database.

Each list's FilterSet lives in its app's `filters.py` and derives from `ListFilterSet`.
Paging parameters (`page`, a keyset cursor) are fields of the FilterSet's form too, so they
are validated in the same place, but they do not filter."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from revcycle.paging import CURSOR_MAX_CHARS, MAX_ID, KeysetPage, KeysetPaginator

MAX_PAGE = 1_000_000
# The amounts we store fit in max_digits=12, decimal_places=2; anything larger matches
# nothing, and an unbounded number (1e999) would only cost the database a cast.
MAX_AMOUNT = Decimal("9999999999.99")


class IdField(forms.IntegerField):
    """A primary key as typed in a URL: a whole number from 1 to 2^63 - 1."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class AmountField(forms.DecimalField):
    """Money as people type it: `1,234.50` and `$12` read; NaN and Infinity are refused by
    DecimalField itself, and the bounds refuse 1e999 and negative amounts."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str):
            value = value.replace(",", "").replace("$", "").strip()
        return super().to_python(value)


class IdFilter(django_filters.Filter):
    field_class = IdField


class AmountFilter(django_filters.Filter):
    field_class = AmountField


class PageForm(forms.Form):
    """The paging fields under a list, checked here, once, with the filters: the keyset
    cursors of revcycle.paging (their keys are read by the list's KeysetPaginator, which
    knows the sort), and `page` for the short lists that number their pages."""

    page = forms.IntegerField(label="page number", required=False, min_value=1,
                              max_value=MAX_PAGE)
    after = forms.CharField(label="page position", required=False,
                            max_length=CURSOR_MAX_CHARS)
    before = forms.CharField(label="page position", required=False,
                             max_length=CURSOR_MAX_CHARS)


def _sentence(message: str) -> str:
    """Django's "Enter a number." as the tail of our sentence: "enter a number"."""
    message = str(message).rstrip(".")
    return message[:1].lower() + message[1:]


class ListFilterSet(django_filters.FilterSet):
    """A FilterSet that drops each invalid value (django-filter filters with the valid
    ones only) and keeps a note per dropped value for the page to show."""

    class Meta:
        form = PageForm

    def __init__(self, data: Any = None, queryset: QuerySet[Any] | None = None, *,
                 request: Any = None, **kwargs: Any) -> None:
        # Always bound: an empty query string is a valid "no filters", and an unbound
        # FilterSet would skip validation and default filtering alike.
        super().__init__(data if data is not None else {}, queryset, request=request, **kwargs)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The form also carries paging fields, which are not filters.
        for name, value in self.form.cleaned_data.items():
            if name in self.filters:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    @property
    def notes(self) -> list[str]:
        """One sentence per ignored parameter: "Ignored the filter 'Amount from': ..."."""
        notes = []
        for name, errors in self.form.errors.items():
            field = self.form.fields.get(name)
            label = str(field.label) if field is not None and field.label else name
            what = f"the filter '{label}'" if name in self.filters else f"the {label}"
            notes.extend(f"Ignored {what}: {_sentence(error)}" for error in errors)
        return notes + getattr(self, "page_notes", [])

    @property
    def shown(self) -> dict[str, str]:
        """The values to show back in the filter form and to record in the audit log: what
        was typed for each valid parameter, blank for the ignored ones."""
        self.form.is_valid()
        return {name: ("" if name in self.form.errors else
                       str(self.form.data.get(self.form.add_prefix(name), "")).strip())
                for name in self.filters}

    def cleaned(self, name: str, default: Any = None) -> Any:
        """A valid parameter's value (a page number, a cursor), else `default`."""
        self.form.is_valid()
        value = self.form.cleaned_data.get(name)
        return default if value in (None, "") else value

    @property
    def page_number(self) -> int:
        return self.cleaned("page", 1)

    def keyset_page(self, rows: QuerySet[Any], order: Sequence[str], per_page: int,
                    **options: Any) -> KeysetPage:
        """The asked keyset page of `rows` (this list's filtered rows), its links keeping
        the filters; a cursor it could not read is noted and the first page shown."""
        paginator = KeysetPaginator(rows, order, per_page, params=self.form.data, **options)
        page = paginator.page(self.cleaned("after", ""), self.cleaned("before", ""))
        self.page_notes = page.notes
        return page

    def poll_fingerprint(self, rows: QuerySet[Any], order: Sequence[str], per_page: int,
                         **options: Any) -> str:
        """What the asked page shows, read cheaply (revcycle.polling.unchanged)."""
        paginator = KeysetPaginator(rows, order, per_page, count=False, **options)
        return paginator.fingerprint(self.cleaned("after", ""), self.cleaned("before", ""))
