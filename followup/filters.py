"""The worklist's filters and paging fields, shared by the page, its CSV export and
saved views (a saved view is the query string of these parameters)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from followup import sources
from followup.worklist import (
    AGE_BUCKETS,
    DEFAULT_SORT,
    PAGE_SIZES,
    SORTS,
    assigned_to,
    bucket_range,
    open_items,
    resolved_items,
    unassigned,
)
from revcycle.filtering import MAX_ID, AmountFilter, ListFilterSet, PageForm
from revcycle.models import Ticket

STATUSES = [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]


class AssigneeField(forms.CharField):
    """"me", "none" or a colleague's user id."""

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        # isascii: "²".isdigit() is true but int("²") fails; the length keeps int() from
        # refusing 5,000 digits (Python's limit on int conversions).
        if value in ("", "me", "none") or (value.isascii() and value.isdigit()
                                           and len(value) <= 19 and 1 <= int(value) <= MAX_ID):
            return value
        raise forms.ValidationError("choose me, nobody or a person from the list")


class AssigneeFilter(django_filters.Filter):
    field_class = AssigneeField


class WorklistForm(PageForm):
    """Paging fields of the worklist: rows per page, and the keyset cursors (PageForm)."""

    size = forms.TypedChoiceField(label="rows per page", required=False, coerce=int,
                                  choices=[(str(s), s) for s in PAGE_SIZES])


class WorklistFilter(ListFilterSet):
    domain = django_filters.ChoiceFilter(
        label="Domain", field_name="kind",
        choices=lambda: list(sources.DOMAIN_LABELS.items()))
    # Free text on purpose: a saved view may name any service's outcome.
    outcome = django_filters.CharFilter(label="Outcome", method="filter_outcome")
    payer = django_filters.CharFilter(label="Payer", field_name="payer")
    age = django_filters.ChoiceFilter(label="Age (days)",
                                      choices=[(b[0], b[0]) for b in AGE_BUCKETS],
                                      method="filter_age")
    amount_min = AmountFilter(label="Amount from", field_name="amount", lookup_expr="gte")
    amount_max = AmountFilter(label="Amount to", field_name="amount", lookup_expr="lte")
    assignee = AssigneeFilter(label="Assigned to", method="filter_assignee")
    q = django_filters.CharFilter(label="Account or patient", method="filter_search")
    status = django_filters.ChoiceFilter(label="Status", choices=STATUSES, method="keep")
    sort = django_filters.ChoiceFilter(label="Sort", choices=[(k, k) for k in SORTS],
                                       method="keep")

    class Meta:
        model = Ticket
        fields: list[str] = []
        form = WorklistForm

    def filter_queryset(self, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        # The status filter has a default ("open"): it applies when the field is blank too.
        queryset = super().filter_queryset(queryset)
        if self.chosen_status == "open":
            return open_items(queryset)
        if self.chosen_status == "resolved":
            return resolved_items(queryset)
        return queryset

    def keep(self, qs: QuerySet[Ticket], name: str, value: Any) -> QuerySet[Ticket]:
        return qs  # status: see filter_queryset; sort: paging orders the rows

    def filter_outcome(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.filter(state__in=Ticket.OPEN_STATES) if value == "open" else qs.filter(
            outcome=value)

    def filter_age(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        earliest, latest = bucket_range(value, timezone.localdate())
        if latest is not None:
            qs = qs.filter(age_date__lte=latest)
        if earliest is not None:
            qs = qs.filter(age_date__gte=earliest)
        return qs

    def filter_assignee(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        if value == "me":
            return assigned_to(qs, self.request.user.pk)
        if value == "none":
            return unassigned(qs)
        return assigned_to(qs, int(value))

    def filter_search(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.filter(Q(account_number__istartswith=value) | Q(patient_name__icontains=value))

    @property
    def chosen_status(self) -> str:
        return self.cleaned("status", "open")

    @property
    def chosen_sort(self) -> str:
        return self.cleaned("sort", DEFAULT_SORT)

    @property
    def page_size(self) -> int:
        return self.cleaned("size", 50)

    def querystring(self) -> dict[str, str]:
        """The valid filters as parameters: the next page's link and a saved view."""
        params = {k: v for k, v in self.shown.items() if v}
        if self.cleaned("size"):
            params["size"] = str(self.page_size)
        return params
