"""The payer claims list's filters, shared by the page and its CSV export."""

from __future__ import annotations

import django_filters

from payer.models import PayerClaim
from revcycle.filtering import IdFilter, ListFilterSet


class PayerClaimFilter(ListFilterSet):
    status = django_filters.ChoiceFilter(label="Status", choices=PayerClaim.Status.choices)
    connection = IdFilter(label="Payer connection", field_name="connection_id")
    # "from" is a Python keyword but the page's parameter name (saved links use it).
    locals()["from"] = django_filters.DateFilter(label="Sent from", field_name="created_at",
                                                 lookup_expr="date__gte")
    to = django_filters.DateFilter(label="Sent to", field_name="created_at",
                                   lookup_expr="date__lte")

    class Meta(ListFilterSet.Meta):
        model = PayerClaim
        fields: list[str] = []
