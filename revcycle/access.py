"""Loading records for a user: another facility's records are 404, as if they did not exist
(HIPAA minimum necessary)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404

from revcycle.models import Connection, Facility


def facilities_for(user: Any) -> QuerySet[Facility]:
    return Facility.objects.for_user(user)


def get_for_user(queryset: QuerySet, user: Any, **lookup: Any) -> Model:
    """The object, if it belongs to one of the user's facilities; else 404."""
    obj = queryset.filter(facility__in=facilities_for(user), **lookup).first()
    if obj is None:
        raise Http404("No such record, or it belongs to a facility you do not work for.")
    return obj


def connections_for(user: Any, kind: str) -> QuerySet[Connection]:
    """Active connections of a kind that serve at least one of the user's facilities."""
    return (Connection.objects.filter(kind=kind, active=True,
                                      facilities__in=facilities_for(user)).distinct())


def default_facility(user: Any) -> Facility | None:
    return facilities_for(user).first()
