"""The figures of the dashboard, each a list of rows a chart draws and a table shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.db.models.functions import ExtractHour
from django.utils import timezone

from followup import sources, worklist
from followup.models import RecheckPolicy
from revcycle import services
from revcycle.codes import describe
from revcycle.models import Ticket
from revcycle.services import outcome_label
from revcycle.templatetags.money import format_money

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
    # Column index -> the currency of the amounts in it: one column per currency, never a
    # sum across currencies. The CSV keeps plain numbers under "Amount (USD)".
    currencies: dict[int, str] = field(default_factory=dict)

    BAR_WIDTH = 200.0  # px of the longest bar in the 400-wide horizontal chart
    COLUMN_HEIGHT = 120.0

    @property
    def cells(self) -> list[list[Any]]:
        """The rows as the table shows them: each amount in its column's currency."""
        return [[format_money(v, self.currencies[i]) if i in self.currencies else v
                 for i, v in enumerate(row)] for row in self.rows]

    @property
    def amount_kinds(self) -> dict[str, str]:
        """The export's amount columns (their names do not end in "Amount")."""
        return {self.columns[i]: "amount" for i in self.currencies}

    @property
    def bars(self) -> list[dict[str, Any]]:
        """Geometry of each bar for the server-drawn SVG."""
        top = max((row[1] or 0 for row in self.rows), default=0) or 1
        out = []
        for i, (row, cells) in enumerate(zip(self.rows, self.cells, strict=True)):
            share = float(row[1] or 0) / float(top)
            bar = {"label": row[0], "value": cells[1], "y": 24 * i,
                   "w": round(self.BAR_WIDTH * share, 1)}
            if self.vertical:
                h = round(self.COLUMN_HEIGHT * share, 1)
                bar.update({"x": 30 + 15 * i, "h": h, "top": 10 + self.COLUMN_HEIGHT - h})
            out.append(bar)
        return out

    @property
    def height(self) -> int:
        return 160 if self.vertical else max(24, 24 * len(self.rows))


def _money(value: Any) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def _in_currencies(rows: list[dict[str, Any]]) -> list[str]:
    """The currencies that have an amount in any of these rows (made with
    services.sums_per_currency), so a chart of dollars only has no shilling column."""
    return [code for code in sorted(services.currency_kinds())
            if any(r.get(f"sum_{code}") is not None for r in rows)]


def _money_chart(name: str, title: str, columns: tuple[str, ...],
                 rows: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> Chart:
    """A chart whose rows are (label and counts, their sums_per_currency row): one
    "Amount (KES)" column per currency found, after the counts."""
    codes = _in_currencies([sums for _cells, sums in rows])
    return Chart(name, title, columns + tuple(f"Amount ({code})" for code in codes),
                 [cells + tuple(_money(sums.get(f"sum_{code}")) for code in codes)
                  for cells, sums in rows],
                 currencies={len(columns) + i: code for i, code in enumerate(codes)})


def by_outcome(tickets: QuerySet[Ticket]) -> Chart:
    rows = (tickets.exclude(outcome="").values("outcome")
            .annotate(n=Count("id"), **services.sums_per_currency()).order_by("-n", "outcome"))
    return _money_chart("outcomes", "Answers by outcome", ("Outcome", "Tickets"),
                        [((outcome_label(r["outcome"]), r["n"]), r) for r in rows])


def by_payer(items: QuerySet[Ticket]) -> Chart:
    """The payers with the most items (the bar: a count, comparable across currencies)."""
    sums = services.sums_per_currency()
    rows = list(items.values("payer").annotate(n=Count("id"), **sums)
                .order_by("-n", "payer"))
    out = [(((r["payer"] or "(no payer)"), r["n"]), r) for r in rows[:TOP_PAYERS]]
    if len(rows) > TOP_PAYERS:
        rest = rows[TOP_PAYERS:]
        out.append(((f"{len(rest)} other payers", sum(r["n"] for r in rest)),
                    {key: _sum_or_none(r[key] for r in rest) for key in sums}))
    return _money_chart("payers", "Worklist by payer", ("Payer", "Items"), out)


def _sum_or_none(values: Any) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal("0")) if present else None


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
        .values("bucket").annotate(n=Count("id"), **services.sums_per_currency())}
    return _money_chart("aging", "Worklist by age (days since date of service)",
                        ("Age (days)", "Items"),
                        [((name, rows.get(name, {}).get("n", 0)), rows.get(name, {}))
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
    rows = (items.values("outcome", "state").annotate(n=Count("id"), **services.sums_per_currency())
            .order_by("-n", "outcome"))
    return _money_chart("smart", "Money at risk: Smart invoices not Billed",
                        ("Invoice status", "Invoices"),
                        [((outcome_label(r["outcome"]) if r["outcome"] else "Pending at Smart",
                           r["n"]), r) for r in rows])


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
