"""The audit log's filters, shared by the page and its CSV export."""

from __future__ import annotations

import django_filters

from revcycle.filtering import ListFilterSet
from revcycle.models import AuditEvent


class AuditFilter(ListFilterSet):
    user = django_filters.CharFilter(label="Person", field_name="username",
                                     lookup_expr="icontains")
    action = django_filters.ChoiceFilter(label="Action", choices=AuditEvent.Action.choices)
    object = django_filters.CharFilter(label="Record type", field_name="object_type",
                                       lookup_expr="icontains")

    class Meta(ListFilterSet.Meta):
        model = AuditEvent
        fields: list[str] = []
