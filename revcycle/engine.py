"""The ticket and polling engine every domain uses.

A ticket is one request to an asynchronous API. The engine's own rows decide what is left
to do. It runs as `manage.py engine`, one supervised process per machine, and more than
one may run at once (several machines, a restart overlapping the old process, a
`run_batch` beside them), and a process may die mid-step. What keeps that safe:
- due tickets are claimed with a lease (SKIP LOCKED on PostgreSQL, the write lock on
  SQLite), so no two engines run one ticket at once;
- claimers are serialised per connection while they count its busy tickets, so the
  connection's concurrency cap holds across processes and machines;
- every state change is saved only by the lease holder (compare-and-set on lease_owner);
- a lease that outlives its engine expires, and the ticket is picked up again.

Waiting on the network must not hold a process per request: a pump claims due tickets and
runs their steps on a pool of threads, rescanning every 0.2 s, so a result is stored
within a poll interval (plus a fraction of a second) of the service having it ready.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db import connection as db_connection
from django.db.models import Max, Q
from django.utils import timezone

from revcycle import enginetrace, errors, leasing, prepared
from revcycle.models import Connection, EnginePump, Ticket

log = logging.getLogger("revcycle.engine")
MAX_RETRYABLE_FAILURES = 8
MAX_BACKOFF_SECONDS = 300


# What a domain's step returns -------------------------------------------------------


@dataclass
class Submitted:
    """The service took the request; poll `remote_id` later."""

    remote_id: str
    http_status: int | None = None
    poll_in: float | None = None


@dataclass
class Pending:
    """Not ready yet (HTTP 202, or a claim still under review)."""

    http_status: int | None = None
    retry_after: float | None = None


@dataclass
class Done:
    """A final answer. `store` saves the domain's results in the same transaction as the
    ticket's final state, and must replace (not add to) earlier results: a step can run
    twice. Where there are none to replace, it may be a revcycle.prepared.Rows, rows only
    to insert, which on PostgreSQL the step's own statement inserts."""

    outcome: str
    response: Any = None
    http_status: int | None = None
    store: Callable[[], None] | None = None


@dataclass
class Failed:
    """A final failure a person must act on; `message` says what to do."""

    message: str
    http_status: int | None = None
    outcome: str = "error"


Step = Submitted | Pending | Done | Failed


@dataclass
class Kind:
    """A kind of ticket: how to send its request and how to read its answer."""

    name: str
    label: str
    service: str  # the Connection.kind it talks to
    submit: Callable[[Ticket], Step]
    poll: Callable[[Ticket], Step] | None = None
    default_interval: int = 15
    # A query (claim status, discovery): sending it twice costs a second answer, nothing
    # more. Its state changes may then be committed without waiting for the disk flush.
    idempotent: bool = False
    max_age_seconds: int = field(default_factory=lambda: settings.ENGINE_MAX_TICKET_AGE)
    extra: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def interval_for(ticket: Ticket) -> float:
    return float(ticket.connection.poll_interval_seconds or KINDS[ticket.kind].default_interval)


# Claiming ---------------------------------------------------------------------------


def new_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_due(owner: str, limit: int, *, kinds: list[str] | None = None,
              batch_id: int | None = None) -> list[int]:
    """Lease up to `limit` due tickets, respecting each connection's concurrency cap."""
    return [t.pk for t in claim_tickets(owner, limit, kinds=kinds, batch_id=batch_id)]


def claim_tickets(owner: str, limit: int, *, kinds: list[str] | None = None,
                  batch_id: int | None = None, count_attempts: bool = False) -> list[Ticket]:
    """claim_due, returning the leased tickets with their connection: the candidates are
    read whole, so a step needs no SELECT of its own. A claim is a fixed number of
    statements (BEGIN, candidates with their connection's cap, on PostgreSQL the
    connections' row locks, busy count, one UPDATE for every lease, COMMIT) however many
    tickets it leases.

    The pump claims several times a second, so the statements are written once as SQL
    (revcycle.leasing) rather than rebuilt by the ORM at each claim: the ORM's building
    and compiling was most of a claim's CPU (docs/performance.md)."""
    if limit <= 0:
        return []
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.ENGINE_LEASE_SECONDS)
    with transaction.atomic():
        _relaxed_commit()  # a lease lost in a crash only lets another worker take the ticket
        leasing.plain_index_scans()
        # Twice the places: tickets of a connection at its cap are passed over.
        candidates = leasing.candidates(now, limit * 2, kinds=kinds, batch_id=batch_id)
        if not candidates:
            return []
        ids = {t.connection_id for t, _, _ in candidates}
        # Serialise claimers per connection (engines on other machines, a run_batch), so
        # two counting busy tickets at once cannot both take the last places under the
        # connection's concurrency cap. On SQLite the write lock taken at BEGIN serialises
        # them already.
        leasing.lock_connections(ids)
        busy = leasing.busy_counts(now, ids)
        chosen: list[tuple[Ticket, Any]] = []
        for ticket, cap, changed in candidates:
            if busy.get(ticket.connection_id, 0) >= (cap or 1):
                continue
            busy[ticket.connection_id] = busy.get(ticket.connection_id, 0) + 1
            ticket.claim_cap = cap  # type: ignore[attr-defined]  # what a hand-over keeps to
            chosen.append((ticket, changed))
            if len(chosen) >= limit:
                break
        # With count_attempts (the pump, which hands these objects to run_step), a first
        # send of an idempotent query counts its attempt in the lease's UPDATE (losing it
        # in a crash only means asking again); other kinds count it in a durable
        # statement of its own just before they send (run_step).
        counted = [t.pk for t, _ in chosen if count_attempts
                   and t.state == Ticket.State.QUEUED and _is_idempotent(t)]
        if chosen:
            leasing.lease([t.pk for t, _ in chosen], owner, lease_until, attempt=counted)
    # Each connection read (and its secrets decrypted) only when it changed, not per
    # ticket or per claim; the claim's tickets share it.
    leased = []
    for ticket, changed in chosen:
        ticket.lease_owner, ticket.lease_until = owner, lease_until
        if ticket.pk in counted:
            ticket.attempts += 1
            ticket.attempt_counted = True  # type: ignore[attr-defined]
        found = leasing.connection(ticket.connection_id, changed)
        if found is not None:  # deleted meanwhile: its tickets went with it
            ticket.connection = found
            leased.append(ticket)
    return leased


# Handing a place on ---------------------------------------------------------------
#
# A step whose call was answered hands its place under the connection's cap to the
# connection's next due ticket: it leases that ticket (one UPDATE) before it saves its own
# outcome, and its thread runs that ticket next. A place given back and claimed again sat
# empty while a pump gathered freed threads and claimed: about 7 of the 64 places on
# average in the scale bench (docs/performance.md, "Scale in session 8").
#
# Why the cap holds without the claim's count and lock: the next ticket is leased before
# this one's lease is given back, so the connection's busy count, which claimers read,
# never grows by a hand-over, and never dips to let a claimer in meanwhile. Only a cap
# lowered since the place was claimed (`claim_cap`) stops hand-overs; the pump's claims,
# which count, then bring the busy count down to it.
#
# After CHAIN_STEPS hand-overs the place is given back and the thread claims once, in due
# order across every connection, as the pump does (_Workers._claim_one): a batch on one
# connection cannot keep the threads from the others for longer than a few steps.
CHAIN_STEPS = 8


@dataclass(frozen=True)
class HandOver:
    """The pump's filters, which a hand-over keeps to (run_batch pumps one batch)."""

    kinds: list[str] | None = None
    batch_id: int | None = None


def _take(ticket: Ticket, owner: str, hand_over: HandOver | None) -> leasing.Take | None:
    """The pick of a hand-over for the place `ticket` holds, or None when none may happen."""
    # A ticket read by its id was not claimed here: no cap to keep to. UPDATE ...
    # RETURNING needs SQLite 3.35 (Django 5.2 accepts 3.31); without it the pump claims
    # every place, as before hand-overs.
    if (hand_over is None or getattr(ticket, "chained", 0) >= CHAIN_STEPS
            or getattr(ticket, "claim_cap", None) is None
            or not db_connection.features.can_return_columns_from_insert):
        return None
    now = timezone.now()
    return leasing.Take(owner=owner, now=now,
                        until=now + timedelta(seconds=settings.ENGINE_LEASE_SECONDS),
                        kinds=hand_over.kinds, batch_id=hand_over.batch_id,
                        count_kinds=[name for name, kind in KINDS.items() if kind.idempotent])


def _hand_over(ticket: Ticket, take: leasing.Take | None) -> Ticket | None:
    """Lease the next due ticket of `ticket`'s connection for the place `ticket` holds
    (a statement of its own: SQLite's way; PostgreSQL's rides on the save, _save_taking)."""
    if take is None:
        return None
    try:
        following = leasing.take_next(ticket, take.owner, take.now, take.until,
                                      kinds=take.kinds, batch_id=take.batch_id,
                                      count_kinds=take.count_kinds)
    except DatabaseError as exc:
        # A hand-over only saves time: its failure must not cost the step its outcome
        # (a POST answered and then recorded as failed would be sent again).
        log.warning("hand-over after ticket %s failed (%s)", ticket.pk, type(exc).__name__)
        return None
    return _handed(ticket, following, take)


def _handed(ticket: Ticket, following: Ticket | None, take: leasing.Take) -> Ticket | None:
    """The ticket a place was handed to, ready for its step."""
    if following is None:
        return None
    following.chained = getattr(ticket, "chained", 0) + 1  # type: ignore[attr-defined]
    # As the pump's claim does: a first send of an idempotent query was counted in the lease.
    if following.state == Ticket.State.QUEUED and following.kind in (take.count_kinds or ()):
        following.attempt_counted = True  # type: ignore[attr-defined]
    following.connection = leasing.connection(
        following.connection_id, following.claim_changed) or ticket.connection  # type: ignore[attr-defined]
    return following


def release(ticket_ids: list[int], owner: str) -> int:
    """Give leases back unused: the tickets are due again for any engine at once."""
    return Ticket.objects.filter(pk__in=ticket_ids, lease_owner=owner).update(
        lease_owner="", lease_until=None)


# Running one step -------------------------------------------------------------------


def _relaxed_commit() -> None:
    """On PostgreSQL, let this transaction commit without waiting for the WAL flush. Only
    for changes whose loss in a database crash is harmless: a lease (advisory) or the state
    of an idempotent query, which is then simply asked again."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _is_idempotent(ticket: Ticket) -> bool:
    kind = KINDS.get(ticket.kind)
    return bool(kind and kind.idempotent)


def _save(ticket: Ticket, owner: str, **values: Any) -> bool:
    """Save as the lease holder only; release the lease. One UPDATE written as SQL
    (revcycle.leasing): every step ends with one, and the ORM's building of it cost more
    CPU than the statement. An idempotent query's state commits without waiting for the
    disk (_relaxed_commit), in the same one statement; inside the Done step's transaction
    that statement relaxes the transaction's commit."""
    return _save_taking(ticket, owner, None, **values)[0]


def _save_taking(ticket: Ticket, owner: str, take: leasing.Take | None,
                 rows: prepared.Rows | None = None, **values: Any) -> tuple[bool, Ticket | None]:
    """_save, and with `take` the hand-over in the same statement (PostgreSQL): whether
    the save was made, and the ticket the place went to. `rows` (with `take` only) are
    what the step stores, inserted by that statement too."""
    values.setdefault("lease_owner", "")
    values.setdefault("lease_until", None)
    values["updated_at"] = timezone.now()
    if take is None:
        return bool(leasing.update_ticket(ticket.pk, values, holder=owner,
                                          relaxed=_is_idempotent(ticket))), None
    saved, following = leasing.update_and_take_next(
        ticket, values, holder=owner, relaxed=_is_idempotent(ticket), take=take, rows=rows)
    return bool(saved), _handed(ticket, following, take)


def _backoff(ticket: Ticket, failures: int) -> float:
    base = min(interval_for(ticket) * (2 ** max(0, failures - 1)), MAX_BACKOFF_SECONDS)
    return float(base * random.uniform(0.8, 1.2))


def _apply(ticket: Ticket, owner: str, step: Step,
           hand_over: HandOver | None = None) -> Ticket | None:
    """Save the step's outcome; returns the ticket its place was handed to, if any."""
    if isinstance(step, Failed):
        _save_outcome(ticket, owner, step)
        return None
    take = _take(ticket, owner, hand_over)
    if take is not None and leasing.saves_and_takes_at_once():
        try:
            return _save_outcome(ticket, owner, step, take)[1]
        except DatabaseError as exc:
            # Nothing of the statement (and of the Done step's transaction) was kept: save
            # again without the hand-over, which only saves time (a POST answered and then
            # recorded as failed would be sent again).
            log.warning("hand-over with ticket %s's save failed (%s)", ticket.pk,
                        type(exc).__name__)
            _save_outcome(ticket, owner, step)
            return None
    # The next ticket leased before this one's lease is given back: the connection's busy
    # count, which other claimers read, never dips and lets one in meanwhile.
    following = _hand_over(ticket, take)
    try:
        saved, _ = _save_outcome(ticket, owner, step)
    except BaseException:
        if following is not None:  # not started: due again for any engine
            release([following.pk], owner)
        raise
    if not saved and following is not None:
        # This ticket's lease was lost (it expired, another engine holds it): there was
        # no place to hand on.
        release([following.pk], owner)
        following = None
    return following


def _save_outcome(ticket: Ticket, owner: str, step: Step,
                  take: leasing.Take | None = None) -> tuple[bool, Ticket | None]:
    """Save the step's outcome as the lease holder (False when the lease was lost); with
    `take`, hand the place on in the same statement and return the ticket it went to."""
    now = timezone.now()
    if isinstance(step, Submitted):
        poll_in = step.poll_in if step.poll_in is not None else interval_for(ticket)
        return _save_taking(ticket, owner, take, state=Ticket.State.SUBMITTED,
                            remote_id=step.remote_id[:100], submitted_at=now,
                            last_http_status=step.http_status, last_error="",
                            next_poll_at=now + timedelta(seconds=poll_in))
    if isinstance(step, Pending):
        wait = max(interval_for(ticket), step.retry_after or 0)
        return _save_taking(ticket, owner, take, state=Ticket.State.PROCESSING,
                            polls=leasing.Plus(1), processing_at=ticket.processing_at or now,
                            last_http_status=step.http_status, last_error="",
                            next_poll_at=now + timedelta(seconds=wait))
    if isinstance(step, Done):
        done = dict(state=Ticket.State.DONE, outcome=step.outcome[:20],
                    response=step.response, last_http_status=step.http_status, last_error="",
                    ready_at=now, finished_at=now, next_poll_at=None,
                    polls=leasing.Plus(1 if ticket.state != Ticket.State.QUEUED else 0))
        if take is not None and isinstance(step.store, prepared.Rows):
            # Rows only to insert ride on the save's one statement: no transaction of
            # their own, nothing stored if the lease was lost.
            return _save_taking(ticket, owner, take, step.store, **done)
        with transaction.atomic():
            # The state change first: it is the lease check (compare-and-set on
            # lease_owner) and takes our row's lock, so a lease lost meanwhile stores
            # nothing, and no other holder can write results until we commit. For an
            # idempotent query it also relaxes the transaction's commit (_save). A place
            # handed on here is given back with the rest if storing fails.
            saved, following = _save_taking(ticket, owner, take, **done)
            if saved and step.store:
                step.store()
            return saved, following
    return _save_taking(ticket, owner, take, state=Ticket.State.FAILED, outcome=step.outcome,
                        last_error=step.message, last_http_status=step.http_status,
                        finished_at=now, next_poll_at=None)


def _fail_or_retry(ticket: Ticket, owner: str, exc: errors.ApiError) -> None:
    now = timezone.now()
    failures = ticket.attempts if ticket.state == Ticket.State.QUEUED else ticket.polls + 1
    if isinstance(exc, errors.AuthenticationFailed):
        # 402: credentials or IP allow-list. Hold every ticket of the connection.
        ticket.connection.flag(exc.message)
        _save(ticket, owner, last_http_status=exc.status,
              last_error=f"On hold: {exc.message}",
              next_poll_at=now + timedelta(seconds=interval_for(ticket)))
        log.warning("connection %s flagged after HTTP %s", ticket.connection_id, exc.status)
        return
    if isinstance(exc, errors.RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 5.0
        until = now + timedelta(seconds=wait)
        Connection.objects.filter(pk=ticket.connection_id).update(backoff_until=until)
        _save(ticket, owner, last_http_status=429, next_poll_at=until,
              last_error=f"The service asked us to slow down; retrying after {wait:.0f} s.")
        return
    if exc.permanent:
        _apply(ticket, owner, Failed(exc.message, http_status=exc.status))
        return
    if failures >= MAX_RETRYABLE_FAILURES:
        _apply(ticket, owner, Failed(
            f"Gave up after {failures} attempts: {exc.message} Check the connection, then "
            "use “check again”.", http_status=exc.status))
        return
    wait = max(_backoff(ticket, failures), exc.retry_after or 0)
    values: dict[str, Any] = {}
    if ticket.state != Ticket.State.QUEUED:
        values["polls"] = leasing.Plus(1)
    _save(ticket, owner, last_http_status=exc.status, **values,
          last_error=f"{exc.message} Retrying in {wait:.0f} s.",
          next_poll_at=now + timedelta(seconds=wait))


def _where(exc: BaseException) -> str:
    """The innermost frames of a traceback as file:line, without the exception's text."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " <- ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}"
                       for f in reversed(frames)) or "unknown place"


def run_step(ticket_or_id: Ticket | int, owner: str,
             hand_over: HandOver | None = None) -> Ticket | None:
    """Advance one leased ticket by one step: submit it, or poll it. The pump passes the
    ticket its claim read (claim_tickets); an id is read here. With `hand_over`, returns
    the ticket this one's place went to (_hand_over), leased and due for its own step."""
    if isinstance(ticket_or_id, Ticket):
        ticket: Ticket | None = ticket_or_id
    else:
        found = Ticket.objects.select_related("connection", "facility").filter(
            pk=ticket_or_id, lease_owner=owner).order_by()[:1]
        ticket = next(iter(found), None)
    if ticket is None or not ticket.is_open:
        return None
    kind = KINDS.get(ticket.kind)
    if kind is None:
        _apply(ticket, owner, Failed(f"No handler for tickets of kind {ticket.kind!r}."))
        return None
    if ticket.age.total_seconds() > kind.max_age_seconds:
        hours = kind.max_age_seconds / 3600
        _save(ticket, owner, state=Ticket.State.EXPIRED, finished_at=timezone.now(),
              next_poll_at=None, outcome="error",
              last_error=f"No final answer after {hours:.0f} hours; use “check again” to retry.")
        return None
    try:
        if ticket.state == Ticket.State.QUEUED:
            # Count the attempt before sending: after a crash, the domain sees attempts > 1
            # and looks its request up before sending anything that must not exist twice.
            if not getattr(ticket, "attempt_counted", False):  # by the claim (idempotent)
                leasing.update_ticket(ticket.pk, {"attempts": leasing.Plus(1)})
                ticket.attempts += 1
            step = kind.submit(ticket)
        else:
            if kind.poll is None:
                raise errors.BadResponse(f"Kind {kind.name} cannot be polled.")
            step = kind.poll(ticket)
        return _apply(ticket, owner, step, hand_over)
    except errors.ApiError as exc:
        _fail_or_retry(ticket, owner, exc)
    except Exception as exc:  # noqa: BLE001 - a bug must not lose the ticket
        # The message may quote patient data, and a traceback repeats it: log the type and
        # where it was raised, never the text (not even with DEBUG on).
        log.error("ticket %s: step raised %s at %s", ticket.pk, type(exc).__name__,
                  _where(exc))
        _fail_or_retry(ticket, owner, errors.BadResponse(
            f"An unexpected error ({type(exc).__name__}) while handling the answer."))
    return None


# The pump ---------------------------------------------------------------------------


class _Workers:
    """A fixed pool of threads; each keeps its own DB connection and closes it on exit."""

    def __init__(self, size: int, owner: str, hand_over: HandOver | None = None) -> None:
        self.owner = owner
        self.hand_over = hand_over
        self.jobs: queue.Queue[Ticket | int | None] = queue.Queue()
        self.busy = 0
        self.done = 0
        # Notified when a step finishes, so the pump hands out freed threads without
        # waiting for its next scan (a 0.2 s nap per step is as long as a 200 ms API call).
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True, name=f"engine-{i}")
                        for i in range(size)]
        for thread in self.threads:
            thread.start()

    def _loop(self) -> None:
        try:
            leasing.plain_index_scans_in_this_thread()
            while (job := self.jobs.get()) is not None:
                try:
                    self._run(job)
                finally:
                    with self.changed:
                        self.busy -= 1
                        self.changed.notify_all()
        finally:
            connections.close_all()

    def _run(self, ticket: Ticket | int | None) -> None:
        """Run a ticket's step, then each ticket its place is handed to (_hand_over)."""
        while ticket is not None:
            ticket_id = ticket.pk if isinstance(ticket, Ticket) else ticket
            try:
                if self.stopping.is_set():
                    # Claimed but not started when the engine was told to stop: hand it
                    # back at once rather than hold it until the lease expires.
                    release([ticket_id], self.owner)
                    return
                began, state = time.time(), getattr(ticket, "state", "")
                ended = getattr(ticket, "chained", 0) >= CHAIN_STEPS
                ticket = run_step(ticket, self.owner, self.hand_over)
                enginetrace.record("step", began, time.time(), ticket=ticket_id, state=state,
                                   handed=ticket is not None)
                if ticket is None and ended:
                    ticket = self._claim_one()
            except Exception as exc:  # noqa: BLE001 - e.g. the database went away
                log.error("ticket %s: engine error %s", ticket_id, type(exc).__name__)
                return
            finally:
                with self.changed:
                    self.done += 1
                    self.changed.notify_all()

    def _claim_one(self) -> Ticket | None:
        """At a chain's end, claim in due order across every connection, as the pump
        would, but at once: the pump, finding the cap full, waits for a quarter of its
        threads or scan_every before it claims again, and the place sat empty meanwhile
        (2 to 4 of the scale bench's 64 on average)."""
        if self.hand_over is None:
            return None
        began = time.time()
        try:
            claimed = claim_tickets(self.owner, 1, kinds=self.hand_over.kinds,
                                    batch_id=self.hand_over.batch_id, count_attempts=True)
        except DatabaseError as exc:
            log.warning("claim after a chain's end failed (%s)", type(exc).__name__)
            return None
        enginetrace.record("claim", began, time.time(), asked=1, got=len(claimed))
        return claimed[0] if claimed else None

    def submit(self, ticket: Ticket | int) -> None:
        with self.changed:
            self.busy += 1
        self.jobs.put(ticket)

    @property
    def free(self) -> int:
        return len(self.threads) - self.busy

    def wait_free(self, at_least: int, timeout: float) -> int:
        """Wait until `at_least` threads are free or `timeout` passes; returns free."""
        with self.changed:
            self.changed.wait_for(lambda: self.free >= at_least, timeout)
            return self.free

    def stop(self) -> None:
        """Let the steps in flight finish (each is bounded by the HTTP timeouts); release
        the tickets still waiting in the queue."""
        self.stopping.set()
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(timeout=settings.HTTP_READ_TIMEOUT + 10)


# A claim costs the same few statements for one ticket or for many: once every thread is
# busy, the pump waits for a few to be freed (at most CLAIM_GATHER_SECONDS, an eighth of a
# typical 200 ms API call) and leases their tickets in one claim.
CLAIM_GATHER_SECONDS = 0.025


def claim_size(threads: int) -> int:
    """How many freed threads the pump gathers before it claims again."""
    return max(1, threads // 4)


def pump(
    seconds: float,
    *,
    threads: int | None = None,
    stop: Callable[[], bool] | None = None,
    heartbeat: Callable[[int], None] | None = None,
    kinds: list[str] | None = None,
    batch_id: int | None = None,
    scan_every: float = 0.2,
    owner: str | None = None,
) -> int:
    """Claim and run due tickets for `seconds` (or until `stop()`); returns steps run."""
    owner = owner or new_owner()
    size = threads or settings.ENGINE_THREADS
    workers = _Workers(size, owner, HandOver(kinds=kinds, batch_id=batch_id))
    gather = claim_size(size)
    deadline = time.monotonic() + seconds
    last_beat = 0.0
    try:
        while time.monotonic() < deadline and not (stop and stop()):
            asked = workers.free
            try:
                began = time.time()
                claimed = claim_tickets(owner, asked, kinds=kinds, batch_id=batch_id,
                                        count_attempts=True)
                enginetrace.record("claim", began, time.time(), asked=asked, got=len(claimed))
                if heartbeat and time.monotonic() - last_beat > 2:
                    heartbeat(workers.done)
                    last_beat = time.monotonic()
            except DatabaseError as exc:
                # A database restart or a lock timeout: keep pumping once it is back.
                log.warning("engine scan failed (%s); retrying", type(exc).__name__)
                connections.close_all()
                claimed = []
            for ticket in claimed:
                workers.submit(ticket)
            if workers.free == 0:
                # Every thread is busy: wake as soon as one is freed, not after a full scan
                # interval (which is as long as an API call), then gather a few more.
                if workers.wait_free(1, scan_every):
                    workers.wait_free(gather, CLAIM_GATHER_SECONDS)
            elif len(claimed) < asked:
                # Nothing more due, or the connection's cap is full: scan again after
                # scan_every, or sooner once a claim's worth of our own steps has ended (each
                # freed a place under the cap). Not at once (a claim that found fewer than
                # it asked for would find nothing: a claim for nothing costs the same
                # statements), and not at every step's end: tickets falling due one by one
                # would then be claimed one by one.
                workers.wait_free(workers.free + gather, scan_every)
    finally:
        workers.stop()
    return workers.done


# The engine process ------------------------------------------------------------------
#
# `manage.py engine` runs one pump for as long as it lives, one process per machine
# (systemd's revcycle-engine.service, compose's `engine`). Each process holds a row of
# EnginePump while it runs: its heartbeat is what /healthz and the "engine stopped" banner
# read. Several engines share the due tickets through their leases, and the concurrency cap
# and rate limit through the database, so nothing binds a ticket to a machine.

# An engine that has not beaten for this long is gone (SIGKILL, power cut): its row is free.
HEARTBEAT_STALE = timedelta(seconds=15)


def _free_row() -> Q:
    return Q(owner="") | Q(heartbeat_at__isnull=True) | Q(
        heartbeat_at__lt=timezone.now() - HEARTBEAT_STALE)


def register_engine(owner: str) -> int:
    """Take an EnginePump row for this process (a released or stale one first, else a new
    slot); returns its slot."""
    for _ in range(20):
        now = timezone.now()
        free = (EnginePump.objects.filter(_free_row()).order_by("slot")
                .values_list("slot", flat=True).first())
        if free is not None:
            # Compare-and-set: two engines starting at once cannot take the same row.
            if EnginePump.objects.filter(_free_row(), slot=free).update(
                    owner=owner, heartbeat_at=now, started_at=now, steps_done=0):
                return free
            continue
        top = EnginePump.objects.aggregate(top=Max("slot"))["top"]
        slot = 0 if top is None else top + 1
        try:
            with transaction.atomic():
                EnginePump.objects.create(slot=slot, owner=owner, heartbeat_at=now,
                                          started_at=now)
            return slot
        except IntegrityError:
            continue  # another engine created this slot first: look again
    raise RuntimeError("could not register the engine: EnginePump rows keep changing")


def run_engine(*, stop: Callable[[], bool], threads: int | None = None,
               scan_every: float = 0.2) -> int:
    """Pump until `stop()` says so; returns the steps run. On the way out, steps in flight
    finish (each saves and releases its own lease), tickets claimed but not started are
    released at once (due again for any engine), and the row keeps its last beat, so
    /healthz stays green across a restart."""
    owner = new_owner()
    slot = register_engine(owner)
    log.info("engine %s started in slot %s", owner, slot)

    def beat(done: int) -> None:
        EnginePump.objects.filter(slot=slot, owner=owner).update(
            heartbeat_at=timezone.now(), steps_done=done)

    try:
        return pump(math.inf, threads=threads, stop=stop, heartbeat=beat, owner=owner,
                    scan_every=scan_every)
    finally:
        EnginePump.objects.filter(slot=slot, owner=owner).update(owner="")
        log.info("engine %s stopped", owner)


def kick() -> None:
    """Called by the domains after they queue tickets. Nothing to wake any more: every
    engine process rescans for due tickets every 0.2 s. Kept so the callers (and their
    tests) need not change."""


def check_again(ticket: Ticket) -> bool:
    """Send a finished ticket's request once more (the "check again" action)."""
    updated = Ticket.objects.filter(pk=ticket.pk, state__in=Ticket.FINAL_STATES).update(
        state=Ticket.State.QUEUED, outcome="", remote_id="", last_error="", attempts=0, polls=0,
        next_poll_at=timezone.now(), submitted_at=None, processing_at=None, ready_at=None,
        finished_at=None, lease_owner="", lease_until=None, queued_at=timezone.now(),
    )
    return bool(updated)
