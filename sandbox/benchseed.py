"""A million tickets in a minute or two: the seeder behind `make bench --only screens`.

The ORM's bulk_create builds a model instance per row and prepares every field of it; at a
million rows that alone takes many minutes. Here each table gets one prepared template row
(`get_db_prep_save` once per column), a few columns vary per row, and the rows go out in
chunks with the cursor's executemany. Child rows that are the same for every ticket (claim
results, coverages) are copied by the database itself with INSERT ... SELECT."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

CHUNK = 20_000
PAYERS = ["AETNA", "BLUE CROSS", "CIGNA", "HUMANA", "MEDICARE", "MEDICAID", "UNITED",
          "KAISER", "ANTHEM", "TRICARE", "WELLCARE", "MOLINA"]
OUTCOMES = ["paid", "denied", "pending", "rejected", "not_found", "paid", "paid", "denied"]
DAYS_SPREAD = 720  # created and service dates spread over about two years


@dataclass
class Seeded:
    """What the seeder made: the batches (biggest first) and the row counts per table."""

    batches: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _prepared(f: models.Field[Any, Any], template: models.Model) -> Any:
    """The template's value of `f` as the database takes it; auto_now fields get now."""
    value = getattr(template, f.attname)
    if value is None and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)):
        value = _now()
    return f.get_db_prep_save(value, connection)


class RawInserter:
    """INSERTs rows of `model` built from a template instance and per-row changes."""

    def __init__(self, model: type[models.Model], template: models.Model) -> None:
        self.model = model
        self.fields = _columns(model)
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        self.base = [_prepared(f, template) for f in self.fields]
        names = ", ".join(connection.ops.quote_name(str(f.column)) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        self.sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "
                    f"({names}) VALUES ({marks})")
        self._prep: dict[str, Callable[[Any], Any]] = {}

    def prep(self, attname: str) -> Callable[[Any], Any]:
        """The column's value preparation (dates and decimals differ per database)."""
        if attname not in self._prep:
            f = self.fields[self.index[attname]]

            def prep(value: Any, f: models.Field[Any, Any] = f) -> Any:
                return f.get_db_prep_save(value, connection)
            self._prep[attname] = prep
        return self._prep[attname]

    def insert(self, changes: Iterable[dict[str, Any]]) -> int:
        n = 0
        with connection.cursor() as cursor:
            chunk: list[list[Any]] = []
            for row_changes in changes:
                row = list(self.base)
                for attname, value in row_changes.items():
                    row[self.index[attname]] = value
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    cursor.executemany(self.sql, chunk)
                    n += len(chunk)
                    chunk = []
            if chunk:
                cursor.executemany(self.sql, chunk)
                n += len(chunk)
        return n


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def ticket_rows(inserter: RawInserter, *, kind: str, count: int, start: int,
                batch_ids: list[int | None], per_batch: int, open_every: int = 0,
                ) -> Iterator[dict[str, Any]]:
    """The varying columns of `count` tickets: account, patient, payer, amount, dates,
    outcome; created oldest first so ids and created_at rise together, as in production.
    Every `open_every`th ticket is still open (submitted), with a poll due later."""
    now = _now()
    oldest = now - timedelta(days=DAYS_SPREAD)
    step = timedelta(days=DAYS_SPREAD) / max(count, 1)
    prep_dt, prep_date = inserter.prep("created_at"), inserter.prep("service_date")
    prep_amount = inserter.prep("amount")
    amounts = [prep_amount(Decimal(f"{(i * 37) % 5000}.{i % 100:02d}")) for i in range(997)]
    dates = [prep_date((now - timedelta(days=d)).date()) for d in range(DAYS_SPREAD + 60)]
    poll_later = prep_dt(now + timedelta(days=1))
    for i in range(count):
        n = start + i
        created = prep_dt(oldest + step * i)
        is_open = open_every and i % open_every == 0
        age = (count - i) * DAYS_SPREAD // max(count, 1)
        row = {"kind": kind, "batch_id": batch_ids[min(i // per_batch, len(batch_ids) - 1)],
               "account_number": f"B{n:08d}", "patient_name": f"PATIENT {n % 50_000:05d}",
               "payer": PAYERS[n % len(PAYERS)], "amount": amounts[n % len(amounts)],
               "service_date": dates[min(age + (n % 30), len(dates) - 1)],
               "age_date": dates[min(age + (n % 30), len(dates) - 1)],
               "created_at": created, "queued_at": created, "updated_at": created,
               "request_hash": f"{kind}-{n:064d}"[-64:]}
        if is_open:
            row |= {"state": "submitted", "outcome": "", "finished_at": None,
                    "next_poll_at": poll_later}
        else:
            row |= {"outcome": OUTCOMES[n % len(OUTCOMES)], "finished_at": created}
        yield row


def _template_ticket(world: Any, kind: str) -> Any:
    from revcycle.models import Ticket

    return Ticket(kind=kind, facility=world.facility, connection=world.connection,
                  created_by=world.user, request={"trackingId1": "BENCH"},
                  request_hash="x", state="done", outcome="paid",
                  response={"status": "made up by the bench"})  # type: ignore[misc]


def _children(sql_table: str, model: type[models.Model], fk: str, batches: list[Any],
              constants: dict[str, Any]) -> int:
    """One child row per ticket of the seeded `batches`, copied by the database (INSERT ...
    SELECT). Only those: the batch section, run before the screens in a whole `make
    bench`, leaves tickets of the same kind that already have their result."""
    template = model(**{k: v for k, v in constants.items()})
    fields = [f for f in _columns(model) if f.attname != fk]
    q = connection.ops.quote_name
    names = ", ".join([q(fk)] + [q(str(f.column)) for f in fields])
    marks = ", ".join(["%s"] * len(fields))
    params = [_prepared(f, template) for f in fields]
    ids = [b.pk for b in batches]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {q(model._meta.db_table)} ({names}) "
                       f"SELECT id, {marks} FROM {q(sql_table)} "
                       f"WHERE batch_id IN ({', '.join(['%s'] * len(ids))})",
                       [*params, *ids])
        return cursor.rowcount


def seed(world: Any, total: int, *, report: Callable[[str], None],
         batch_size: int = 100_000, payer_claims: int = 100_000) -> Seeded:
    """`total` claim-status tickets (with a result row each; 1 in 50 still open) and a fifth
    as many discovery lookups (with a coverage each), in batches of at most `batch_size`,
    and `payer_claims` payer claims."""
    from claims.models import ClaimStatusResult
    from eligibility.models import Coverage
    from revcycle.models import Batch, Ticket

    out = Seeded()
    seeded: dict[str, list[Any]] = {}
    plan = [("claim_status", total, 50), ("discovery", total // 5, 0)]
    start = 0
    for kind, count, open_every in plan:
        with transaction.atomic():
            n_batches = max(1, -(-count // batch_size))
            per_batch = -(-count // n_batches)
            batches = [Batch.objects.create(
                kind=kind, facility=world.facility, connection=world.connection,
                created_by=world.user, filename=f"bench-{kind}-{b}.csv",
                total_rows=min(per_batch, count - b * per_batch),
                ticket_count=min(per_batch, count - b * per_batch)) for b in range(n_batches)]
            inserter = RawInserter(Ticket, _template_ticket(world, kind))
            inserted = inserter.insert(ticket_rows(
                inserter, kind=kind, count=count, start=start,
                batch_ids=[b.pk for b in batches], per_batch=per_batch, open_every=open_every))
        out.batches += batches
        seeded[kind] = batches
        out.counts[kind] = inserted
        start += count
        report(f"  {inserted:,} {kind} tickets in {len(batches)} batches")
    with transaction.atomic():
        out.counts["claim results"] = _children(
            Ticket._meta.db_table, ClaimStatusResult, "ticket_id", seeded["claim_status"],
            {"payer_claim_number": "PCN-BENCH", "date_of_service": date(2026, 1, 5),
             "status_code": "F1", "category_code": "F1"})
        out.counts["coverages"] = _children(
            Ticket._meta.db_table, Coverage, "ticket_id", seeded["discovery"],
            {"payer_name1": "BENCH PAYER", "member_id": "M-BENCH", "position": 0})
    if payer_claims:
        out.counts["payer claims"] = seed_payer_claims(world, payer_claims)
    with connection.cursor() as cursor:
        # Fresh statistics for the planner and, on PostgreSQL, what autovacuum would long
        # since have done to a production table: the visibility map set (index-only scans
        # skip the heap) and the hint bits written, so that no measured request is the
        # first reader of a freshly inserted page and pays for writing them.
        # (VACUUM cannot run inside a transaction: a test's seed only analyses.)
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    return out


def seed_payer_claims(world: Any, count: int) -> int:
    """`count` payer claims, each with its `payer_claim` engine ticket as production makes
    them (a claim without one would give the planner a column of NULLs to join on, and
    plans no production database sees)."""
    from payer.models import PayerClaim
    from revcycle.models import Connection

    payer, _ = Connection.objects.update_or_create(
        name="Bench payer (screens)", defaults={
            "kind": "payer", "base_url": "http://127.0.0.1:9/api", "api_key": "bench",
            "provider_id": "BENCH-PROV"})
    payer.facilities.add(world.facility)
    ticket_ids = _payer_claim_tickets(world, payer, count)
    template = PayerClaim(reference="x", facility=world.facility, connection=payer,
                          created_by=world.user, patient_name="BENCH PATIENT",
                          diagnosis_code="J45.909", amount=Decimal("250.00"),
                          status="under_review")
    inserter = RawInserter(PayerClaim, template)
    prep_dt = inserter.prep("created_at")
    now = _now()
    statuses = ["queued", "submitted", "under_review", "approved", "rejected", "paid"]
    valid = {v for v, _ in PayerClaim.Status.choices}
    statuses = [s for s in statuses if s in valid] or ["queued"]

    def rows() -> Iterator[dict[str, Any]]:
        for i, ticket_id in enumerate(ticket_ids):
            at = prep_dt(now - timedelta(seconds=(count - i) * 60))
            yield {"reference": f"RC-B{i:08d}", "claim_id": f"CLM-B{i:08d}",
                   "account_number": f"PA{i:08d}", "status": statuses[i % len(statuses)],
                   "created_at": at, "status_changed_at": at, "updated_at": at,
                   "ticket_id": ticket_id}

    with transaction.atomic():
        return inserter.insert(rows())


def _payer_claim_tickets(world: Any, payer: Any, count: int) -> list[int]:
    """The claims' engine tickets (finished), oldest first; their ids in that order."""
    from payer.flow import KIND
    from revcycle.models import Ticket

    template = _template_ticket(world, KIND)
    template.connection = payer
    with transaction.atomic():
        inserter = RawInserter(Ticket, template)
        inserter.insert(ticket_rows(inserter, kind=KIND, count=count, start=10**8,
                                    batch_ids=[None], per_batch=count or 1))
    return list(Ticket.objects.filter(kind=KIND, connection=payer)
                .order_by("id").values_list("id", flat=True))
