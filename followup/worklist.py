"""The worklist: one query over the user's tickets that need a person (filtered by
followup.filters), its sorts and its summary line. Pages are revcycle.paging's keyset pages
(a page costs the same few queries at row 100 and row 100,000)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Exists, OuterRef, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from followup import sources
from followup.models import FollowUp, RecheckPolicy
from revcycle import services
from revcycle.models import Ticket
from revcycle.paging import capped_aggregate

PAGE_SIZES = (25, 50, 100, 200)
AGE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None),
]
# sort name -> the keyset order (revcycle.paging): a column or annotation, then the id.
SORTS: dict[str, tuple[str, str]] = {
    "age": ("age_date", "id"),  # oldest date of service first: longest waiting
    "-age": ("-age_date", "-id"),
    "amount": ("amount_key", "id"),
    "-amount": ("-amount_key", "-id"),
    "payer": ("payer", "id"),
    "account": ("account_number", "id"),
}
DEFAULT_SORT = "age"


def age_days(ticket: Ticket, today: date) -> int:
    start = ticket.service_date or timezone.localtime(ticket.created_at).date()
    return (today - start).days


def bucket_of(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]  # a future date of service counts as new


def bucket_range(name: str, today: date) -> tuple[date | None, date | None]:
    """The dates of service (inclusive) of an aging bucket."""
    for bucket, low, high in AGE_BUCKETS:
        if bucket == name:
            latest = today - timedelta(days=low)
            earliest = today - timedelta(days=high) if high is not None else None
            return earliest, latest
    return None, None


def needing_person(user: Any, now: datetime | None = None,
                   policy: RecheckPolicy | None = None) -> QuerySet[Ticket]:
    now = now or timezone.now()
    policy = policy or RecheckPolicy.cached()
    # The encrypted request and raw answer are never shown here: leave them undecrypted.
    # Ticket.age_date (the date of service, else the day of the request) is a column with
    # an index, so the default order and its keyset pages do not sort every row.
    return (Ticket.objects.for_user(user).filter(sources.worklist_condition(now, policy))
            .defer("request", "response")
            .annotate(amount_key=Coalesce("amount", Value(Decimal("0")),
                                          output_field=DecimalField(max_digits=12,
                                                                    decimal_places=2))))


# The follow-up conditions are EXISTS / NOT EXISTS over followup_followup, one index probe
# (its unique ticket_id) per ticket read. As LEFT JOINs inside the OR of the sources,
# PostgreSQL joined before it could stop: the summary's capped count took 210 to 232 ms
# with a million tickets, and 26 to 42 ms as EXISTS (docs/performance.md, "Screens with a
# million tickets", session 5).
def _followups(**conditions: Any) -> Exists:
    return Exists(FollowUp.objects.filter(ticket=OuterRef("pk"), **conditions))


def open_items(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Tickets nobody resolved: no follow-up, or an open one."""
    return qs.filter(~Exists(FollowUp.objects.filter(ticket=OuterRef("pk"))
                             .exclude(status=FollowUp.Status.OPEN)))


def resolved_items(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return qs.filter(_followups(status=FollowUp.Status.RESOLVED))


def assigned_to(qs: QuerySet[Ticket], user_id: int) -> QuerySet[Ticket]:
    return qs.filter(_followups(assignee_id=user_id))


def unassigned(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """No follow-up, or one assigned to nobody."""
    return qs.filter(~_followups(assignee__isnull=False))


@dataclass
class Summary:
    total: int
    total_amount: Decimal | None  # None when the count stopped at COUNT_CAP
    capped: bool = False
    # The amounts per currency ("USD", "KES"): a sum across currencies means nothing.
    totals: list[tuple[str, Decimal]] = field(default_factory=list)


def summary(qs: QuerySet[Ticket]) -> tuple[int, Decimal | None, list[tuple[str, Decimal]], bool]:
    """(items, their amount, the amount per currency, capped): exact up to COUNT_CAP items;
    past it the count stops (a poll must not add up a million rows) and no amount is given.
    One statement (revcycle.paging.capped_aggregate)."""
    # Each alias differs from the field's name: an alias "amount" would shadow it.
    counted = capped_aggregate(qs, {"sum_all": Sum("amount"), **services.sums_per_currency()})
    if counted.capped:
        return counted.count, None, [], True
    return (counted.count, counted.values["sum_all"] or Decimal("0"),
            services.currency_totals(counted.values), False)


def summarise(qs: QuerySet[Ticket]) -> Summary:
    total, amount, totals, capped = summary(qs)
    return Summary(total=total, total_amount=amount, capped=capped, totals=totals)


def with_rows(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a page of the worklist draws beside each ticket."""
    return qs.select_related("followup__assignee", "connection")


def mask_name(name: str) -> str:
    """Initials only, for people who may not see patient names."""
    return " ".join(f"{part[0]}." for part in name.split() if part)
