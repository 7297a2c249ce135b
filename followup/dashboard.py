"""The figures of the dashboard, each a list of rows a chart draws and a table shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractHour
from django.utils import timezone

from followup import sources, worklist
from followup.models import RecheckPolicy
from revcycle.codes import describe
from revcycle.models import Ticket
from revcycle.services import outcome_label

DENIAL_WINDOW_DAYS = 30
TOP_PAYERS = 10


@dataclass
class Chart:
    name: str
    title: str
    columns: tuple[str, ...]  # label column, then values; the first value draws the bar
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""

    vertical: bool = False

    BAR_WIDTH = 200.0  # px of the longest bar in the 400-wide horizontal chart
    COLUMN_HEIGHT = 120.0

    @property
    def bars(self) -> list[dict[str, Any]]:
        """Geometry of each bar for the server-drawn SVG."""
        top = max((row[1] or 0 for row in self.rows), default=0) or 1
        out = []
        for i, row in enumerate(self.rows):
            share = float(row[1] or 0) / float(top)
            bar = {"label": row[0], "value": row[1], "rest": row[2:], "y": 24 * i,
                   "w": round(self.BAR_WIDTH * share, 1)}
            if self.vertical:
                h = round(self.COLUMN_HEIGHT * share, 1)
                bar.update({"x": 30 + 15 * i, "h": h, "top": 10 + self.COLUMN_HEIGHT - h})
            out.append(bar)
        return out

    @property
    def height(self) -> int:
        return 160 if self.vertical else max(24, 24 * len(self.rows))


def _money(value: Any) -> Decimal:
    return (value or Decimal("0")).quantize(Decimal("0.01"))


def by_outcome(tickets: QuerySet[Ticket]) -> Chart:
    rows = (tickets.exclude(outcome="").values("outcome")
            .annotate(n=Count("id"), amount=Sum("amount")).order_by("-n", "outcome"))
    return Chart("outcomes", "Answers by outcome", ("Outcome", "Tickets", "Amount"),
                 [(outcome_label(r["outcome"]), r["n"], _money(r["amount"])) for r in rows])


def by_payer(items: QuerySet[Ticket]) -> Chart:
    rows = list(items.values("payer").annotate(n=Count("id"), amount=Sum("amount"))
                .order_by("-amount", "-n", "payer"))
    shown = rows[:TOP_PAYERS]
    out = [(r["payer"] or "(no payer)", _money(r["amount"]), r["n"]) for r in shown]
    if len(rows) > TOP_PAYERS:
        rest = rows[TOP_PAYERS:]
        out.append((f"{len(rest)} other payers", _money(sum((r["amount"] or 0 for r in rest),
                                                           Decimal("0"))),
                    sum(r["n"] for r in rest)))
    return Chart("payers", "Worklist amount by payer", ("Payer", "Amount", "Items"), out)


def by_age(items: QuerySet[Ticket], today: Any) -> Chart:
    whens = []
    for name, _low, _high in worklist.AGE_BUCKETS:
        earliest, latest = worklist.bucket_range(name, today)
        cond = Q(age_date__lte=latest)
        if earliest is not None:
            cond &= Q(age_date__gte=earliest)
        whens.append(When(cond, then=Value(name)))
    rows = {r["bucket"]: r for r in items.annotate(
        bucket=Case(*whens, default=Value("0-30"), output_field=CharField()))
        .values("bucket").annotate(n=Count("id"), amount=Sum("amount"))}
    return Chart("aging", "Worklist by age (days since date of service)",
                 ("Age (days)", "Items", "Amount"),
                 [(name, rows.get(name, {}).get("n", 0), _money(rows.get(name, {}).get("amount")))
                  for name, _l, _h in worklist.AGE_BUCKETS])


def denial_reasons(tickets: QuerySet[Ticket], now: datetime) -> Chart:
    """Reason codes of recent denials, counted by each domain that reads them (claims/
    worklist.py: CARC codes from its stored service lines or its raw answers)."""
    note = f"Denials of the last {DENIAL_WINDOW_DAYS} days"
    counts: Counter[str] = Counter()
    for domain in sources.DOMAINS.values():
        if domain.denial_reasons is None:
            continue
        reasons = domain.denial_reasons(tickets.filter(
            kind=domain.kind, outcome="denied",
            finished_at__gte=now - timedelta(days=DENIAL_WINDOW_DAYS)))
        counts.update(reasons.counts)
        note += reasons.note
    rows = [(code, n, describe("carc", code) or "no description on file")
            for code, n in counts.most_common(10)]
    return Chart("denials", "Top denial reasons (CARC)", ("Code", "Claims", "Description"),
                 rows, note=note + ".")


def money_at_risk(tickets: QuerySet[Ticket], now: datetime, policy: RecheckPolicy) -> Chart:
    items = worklist.open_items(tickets.filter(sources.money_at_risk_condition(now, policy)))
    rows = (items.values("outcome", "state").annotate(n=Count("id"), amount=Sum("amount"))
            .order_by("-amount"))
    return Chart("smart", "Money at risk: Smart invoices not Billed",
                 ("Invoice status", "Amount", "Invoices"),
                 [(outcome_label(r["outcome"]) if r["outcome"] else "Pending at Smart",
                   _money(r["amount"]), r["n"]) for r in rows])


def throughput_today(tickets: QuerySet[Ticket], now: datetime) -> Chart:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = dict(tickets.filter(finished_at__gte=start, finished_at__lte=now)
                  .annotate(hour=ExtractHour("finished_at", tzinfo=timezone.get_current_timezone()))
                  .values_list("hour").annotate(n=Count("id")))
    return Chart("throughput", "Tickets finished today, per hour", ("Hour", "Finished"),
                 [(f"{h:02d}:00", counts.get(h, 0)) for h in range(24)], vertical=True)


def charts(user: Any, now: datetime | None = None) -> dict[str, Chart]:
    now = now or timezone.now()
    policy = RecheckPolicy.get()
    tickets = Ticket.objects.for_user(user)
    items = worklist.open_items(worklist.needing_person(user, now, policy))
    today = timezone.localtime(now).date()
    found = [by_outcome(tickets), by_payer(items), by_age(items, today),
             denial_reasons(tickets, now), money_at_risk(tickets, now, policy),
             throughput_today(tickets, now)]
    return {chart.name: chart for chart in found}
