"""The claim status worklist's filters, shared by the page and its CSV export."""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from claims.outcomes import OUTCOME_CHOICES
from revcycle.filtering import IdFilter, ListFilterSet
from revcycle.models import Ticket

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "account": ("account_number", "-id"),
    "patient": ("patient_name", "-id"),
    "payer": ("payer", "-id"),
    "outcome": ("outcome", "-id"),
    "service": ("-claim_result__date_of_service", "-id"),
}
# A ticket whose answer has not come has no claim result: its date of service is NULL.
NULLABLE_SORT_KEYS = ("claim_result__date_of_service",)
DATE_FIELDS = {"request": "created_at__date", "service": "claim_result__date_of_service"}


class ClaimStatusFilter(ListFilterSet):
    outcome = django_filters.ChoiceFilter(
        label="Outcome", choices=[("open", "In progress"), *OUTCOME_CHOICES],
        method="filter_outcome")
    payer = django_filters.CharFilter(label="Payer", lookup_expr="icontains")
    dates = django_filters.ChoiceFilter(label="Dates of", choices=[(k, k) for k in DATE_FIELDS],
                                        method="keep")
    # "from" is a Python keyword but the page's parameter name (saved links use it).
    locals()["from"] = django_filters.DateFilter(label="From", method="filter_from")
    to = django_filters.DateFilter(label="To", method="filter_to")
    batch = IdFilter(label="Batch", field_name="batch_id")
    q = django_filters.CharFilter(label="Account or patient", method="filter_search")
    sort = django_filters.ChoiceFilter(label="Sort", choices=[(k, k) for k in SORTS],
                                       method="filter_sort")

    class Meta(ListFilterSet.Meta):
        model = Ticket
        fields: list[str] = []

    def filter_outcome(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.open() if value == "open" else qs.filter(outcome=value)

    def keep(self, qs: QuerySet[Ticket], name: str, value: Any) -> QuerySet[Ticket]:
        return qs  # read by the date filters

    def _date_field(self) -> str:
        return DATE_FIELDS[self.form.cleaned_data.get("dates") or "request"]

    def filter_from(self, qs: QuerySet[Ticket], name: str, value: date) -> QuerySet[Ticket]:
        return qs.filter(**{f"{self._date_field()}__gte": value})

    def filter_to(self, qs: QuerySet[Ticket], name: str, value: date) -> QuerySet[Ticket]:
        return qs.filter(**{f"{self._date_field()}__lte": value})

    def filter_search(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.filter(Q(account_number__istartswith=value) | Q(patient_name__icontains=value))

    def filter_sort(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.order_by(*SORTS[value])  # the export's order; the page's is its paginator's
