"""The discovery worklist's filters, shared by the page and its CSV export."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from revcycle.filtering import IdFilter, ListFilterSet
from revcycle.models import Ticket

OUTCOME_FILTERS = [("found", "Coverage found"), ("none_found", "No coverage found"),
                   ("error", "Error"), ("open", "In progress")]


class DiscoveryFilter(ListFilterSet):
    outcome = django_filters.ChoiceFilter(label="Outcome", choices=OUTCOME_FILTERS,
                                          method="filter_outcome")
    payer = django_filters.CharFilter(label="Payer", method="filter_payer")
    batch = IdFilter(label="Batch", field_name="batch_id")
    q = django_filters.CharFilter(label="Account or patient", method="filter_search")

    class Meta(ListFilterSet.Meta):
        model = Ticket
        fields: list[str] = []

    def filter_outcome(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.open() if value == "open" else qs.filter(outcome=value)

    def filter_payer(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        # Ticket.payer holds the payers found once coverage is found; before, the region
        # searched. A payer id matches a coverage's exactly.
        return qs.filter(Q(payer__icontains=value) |
                         Q(coverages__payer_id1__iexact=value)).distinct()

    def filter_search(self, qs: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return qs.filter(Q(account_number__istartswith=value) | Q(patient_name__icontains=value))
