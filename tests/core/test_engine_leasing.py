"""The claim's SQL (revcycle/leasing.py), row by row: which tickets a claim may take, what
a lease writes, how a connection's busy tickets are counted, and, on PostgreSQL, what two
claimers on two database connections do at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revcycle import engine, leasing
from revcycle.models import Batch, Connection, Ticket

MakeTicket = Callable[..., Ticket]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (FOR UPDATE, SKIP LOCKED) exist only on PostgreSQL; SQLite's write "
           "lock, taken at BEGIN, serialises claimers whole")


def candidate_ids(now: datetime, limit: int = 10, **filters: Any) -> list[int]:
    return [t.pk for t, _, _ in leasing.candidates(now, limit, **filters)]


def leases() -> dict[int, tuple[str, int]]:
    return {pk: (owner, attempts) for pk, owner, attempts
            in Ticket.objects.values_list("pk", "lease_owner", "attempts")}


# Which tickets a claim may take ------------------------------------------------------


def test_a_claim_offers_due_open_tickets_soonest_due_first_with_their_connections_cap(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    now = timezone.now()
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=7)
    later = make_ticket(next_poll_at=now - timedelta(seconds=5))
    sooner = make_ticket(next_poll_at=now - timedelta(seconds=50), state=Ticket.State.SUBMITTED)
    exactly_now = make_ticket(next_poll_at=now, state=Ticket.State.PROCESSING)
    make_ticket(next_poll_at=now + timedelta(seconds=1))  # not yet due
    for state in Ticket.FINAL_STATES:  # finished: never claimed, however long overdue
        make_ticket(next_poll_at=now - timedelta(hours=1), state=state)
    found = leasing.candidates(now, 10)
    assert [t.pk for t, _, _ in found] == [sooner.pk, later.pk, exactly_now.pk]
    assert {cap for _, cap, _ in found} == {7}
    # Read whole: the request decrypted, as the step will send it.
    assert found[0][0].request == {"accountNumber": "ACC1001"}
    # The limit keeps the soonest.
    assert candidate_ids(now, 2) == [sooner.pk, later.pk]


@pytest.mark.parametrize("change", [
    {"active": False},
    {"flagged_at": "now"},
    {"backoff_until": "later"},
], ids=["inactive", "flagged", "backing-off"])
def test_no_ticket_of_an_unusable_connection_is_offered(
        make_ticket: MakeTicket, integrex: Connection, payer: Connection,
        change: dict[str, Any]) -> None:
    now = timezone.now()
    moments = {"now": now, "later": now + timedelta(seconds=30)}
    values = {k: moments.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    Connection.objects.filter(pk=integrex.pk).update(**values)
    make_ticket()
    usable = make_ticket(connection=payer)
    assert candidate_ids(timezone.now()) == [usable.pk]


def test_a_connection_whose_backoff_has_ended_is_used_again(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    now = timezone.now()
    ticket = make_ticket(next_poll_at=now - timedelta(seconds=1))
    Connection.objects.filter(pk=integrex.pk).update(backoff_until=now)
    assert candidate_ids(now) == [ticket.pk]  # it ends at this very moment
    Connection.objects.filter(pk=integrex.pk).update(backoff_until=now - timedelta(seconds=1))
    assert candidate_ids(now) == [ticket.pk]


def test_a_live_lease_keeps_its_ticket_and_an_expired_one_gives_it_up(
        make_ticket: MakeTicket) -> None:
    now = timezone.now()
    past = now - timedelta(seconds=10)
    held = make_ticket(next_poll_at=past, lease_owner="a", lease_until=now + timedelta(seconds=1))
    expired = make_ticket(next_poll_at=past, lease_owner="b",
                          lease_until=now - timedelta(microseconds=1))
    free = make_ticket(next_poll_at=past)
    assert sorted(candidate_ids(now)) == sorted([expired.pk, free.pk])
    assert held.pk not in candidate_ids(now)


def test_a_claim_can_be_narrowed_to_kinds_and_to_one_batch(
        make_ticket: MakeTicket, st_marys: Any, integrex: Connection) -> None:
    batch = Batch.objects.create(kind="core_echo", facility=st_marys, connection=integrex)
    other = Batch.objects.create(kind="core_echo", facility=st_marys, connection=integrex)
    past = timezone.now() - timedelta(seconds=1)
    in_batch = make_ticket(batch=batch, next_poll_at=past - timedelta(seconds=2))
    in_other = make_ticket(batch=other, next_poll_at=past - timedelta(seconds=1))
    single = make_ticket(next_poll_at=past)
    other_kind = make_ticket(kind="core_other", next_poll_at=past)
    now = timezone.now()
    assert candidate_ids(now, batch_id=batch.pk) == [in_batch.pk]
    assert candidate_ids(now, kinds=["core_echo"]) == [in_batch.pk, in_other.pk, single.pk]
    assert candidate_ids(now, kinds=["core_other", "core_none"]) == [other_kind.pk]
    assert candidate_ids(now, kinds=["core_other"], batch_id=batch.pk) == []


# What a lease writes, and what counts against the cap ---------------------------------


def test_a_lease_names_its_owner_and_end_and_counts_only_the_attempts_asked(
        make_ticket: MakeTicket) -> None:
    a, b, c = (make_ticket() for _ in range(3))
    until = timezone.now() + timedelta(seconds=90)
    leasing.lease([a.pk, b.pk], "owner-x", until, attempt=[b.pk])
    assert leases() == {a.pk: ("owner-x", 0), b.pk: ("owner-x", 1), c.pk: ("", 0)}
    assert set(Ticket.objects.filter(lease_until=until).values_list("pk", flat=True)) == {
        a.pk, b.pk}
    leasing.lease([a.pk], "owner-y", until)  # no attempt asked: none counted
    assert leases()[a.pk] == ("owner-y", 0)


def test_busy_tickets_are_those_under_a_live_lease_whoever_holds_it(
        make_ticket: MakeTicket, integrex: Connection, payer: Connection) -> None:
    now = timezone.now()
    live, ended = now + timedelta(seconds=60), now - timedelta(seconds=1)
    make_ticket(lease_owner="a", lease_until=live)
    make_ticket(lease_owner="b", lease_until=live, state=Ticket.State.SUBMITTED)
    make_ticket(lease_owner="c", lease_until=ended)  # its engine died: not busy
    make_ticket()  # not leased
    make_ticket(connection=payer, lease_owner="a", lease_until=live)
    assert leasing.busy_counts(now, {integrex.pk, payer.pk}) == {integrex.pk: 2, payer.pk: 1}
    assert leasing.busy_counts(now, {payer.pk}) == {payer.pk: 1}


def test_a_claim_never_leases_more_than_the_cap_counting_other_owners_live_leases(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=3)
    now = timezone.now()
    make_ticket(lease_owner="elsewhere", lease_until=now + timedelta(seconds=60),
                state=Ticket.State.SUBMITTED, next_poll_at=now + timedelta(seconds=60))
    make_ticket(lease_owner="dead", lease_until=now - timedelta(seconds=1),
                state=Ticket.State.SUBMITTED, next_poll_at=now + timedelta(seconds=60))
    for _ in range(5):
        make_ticket()
    assert len(engine.claim_tickets("owner-a", 10)) == 2  # 3 less the live lease elsewhere
    assert engine.claim_tickets("owner-b", 10) == []
    live = Ticket.objects.filter(lease_until__gt=timezone.now())
    assert live.count() == 3


def test_a_connection_without_a_cap_runs_one_ticket_at_a_time(
        make_ticket: MakeTicket, integrex: Connection) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=0)
    make_ticket()
    make_ticket()
    assert len(engine.claim_tickets("owner-a", 10)) == 1
    assert engine.claim_tickets("owner-b", 10) == []


# A step's UPDATE ---------------------------------------------------------------------


def test_a_steps_update_changes_the_row_only_while_its_holder_keeps_the_lease(
        make_ticket: MakeTicket) -> None:
    ticket = make_ticket(lease_owner="holder", polls=4)
    other = make_ticket(lease_owner="holder", polls=4)
    assert leasing.update_ticket(ticket.pk, {"polls": leasing.Plus(2), "last_error": "x"},
                                 holder="thief") == 0
    assert leasing.update_ticket(ticket.pk, {"polls": leasing.Plus(2), "last_error": "x"},
                                 holder="holder") == 1
    assert Ticket.objects.filter(pk=ticket.pk).values_list("polls", "last_error").get() == (
        6, "x")
    # Without a holder (the attempt counted before sending) it changes the row whoever
    # holds it; and only that row.
    assert leasing.update_ticket(ticket.pk, {"attempts": leasing.Plus(1)}) == 1
    assert Ticket.objects.get(pk=ticket.pk).attempts == 1
    assert Ticket.objects.filter(pk=other.pk).values_list("polls", "last_error",
                                                          "attempts").get() == (4, "", 0)


# The connection read once while unchanged ----------------------------------------------


def test_a_connection_is_read_again_once_flagged_and_a_deleted_one_is_none(
        integrex: Connection, payer: Connection) -> None:
    changed = "2026-01-01"
    with CaptureQueriesContext(connection) as reads:
        first = leasing.connection(integrex.pk, changed)
        again = leasing.connection(integrex.pk, changed)
    assert first is again and len(reads) == 1
    assert first is not None and first.client_secret == "s3cret-client"
    first.flag("402 from the service")  # a queryset update: updated_at does not move
    with CaptureQueriesContext(connection) as reads:
        reread = leasing.connection(integrex.pk, changed)
    assert len(reads) == 1 and reread is not first
    assert reread is not None and reread.flagged_reason == "402 from the service"
    # Another connection is cached apart.
    assert getattr(leasing.connection(payer.pk, changed), "name", None) == "Payer test"
    Connection.objects.filter(pk=payer.pk).delete()
    leasing._known.clear()
    assert leasing.connection(payer.pk, changed) is None
    assert payer.pk not in leasing._known


def test_no_connection_row_is_locked_for_an_empty_claim(db: Any) -> None:
    with CaptureQueriesContext(connection) as sent:
        leasing.lock_connections(set())
    assert sent.captured_queries == []


# Two claimers at once, on two database connections (PostgreSQL) ---------------------


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `target` on a thread of its own (its own database connection); the list gets
    what it returned or raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # noqa: BLE001 - read by the test
            out.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _waiting_on_a_lock() -> int:
    """Other sessions of this database blocked on a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND wait_event_type = 'Lock'")
        return int(cursor.fetchone()[0])


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """Set to let a claimer paused inside its transaction commit."""
    event = threading.Event()
    yield event
    event.set()


def _candidates_locked_by_another_claimer(
        limit: int, held: threading.Event) -> tuple[threading.Thread, list[Any]]:
    """Another claimer, on a thread, reads `limit` candidates row-locked and holds its
    transaction until `held` is set; returns once the rows are locked."""
    locked = threading.Event()

    def claimer() -> list[int]:
        with transaction.atomic():
            found = candidate_ids(timezone.now(), limit)
            locked.set()
            held.wait(30)
            return found

    thread, out = _in_thread(claimer)
    assert locked.wait(30)
    return thread, out


def _claim_one_paused_after_its_lease(
        monkeypatch: pytest.MonkeyPatch, held: threading.Event,
) -> tuple[threading.Thread, list[Any]]:
    """Claimer "owner-a" claims one place on a thread and pauses after its lease's UPDATE,
    before its commit, until `held` is set; returns once it has leased."""
    leased = threading.Event()
    real_lease = leasing.lease

    def pausing_lease(ids: list[int], owner: str, *args: Any, **kwargs: Any) -> None:
        real_lease(ids, owner, *args, **kwargs)
        if owner == "owner-a":
            leased.set()
            held.wait(30)

    monkeypatch.setattr(leasing, "lease", pausing_lease)
    thread, out = _in_thread(lambda: engine.claim_due("owner-a", 1))
    assert leased.wait(30)
    return thread, out


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_claimer_passes_over_tickets_another_claimer_has_locked_without_waiting(
        make_ticket: MakeTicket, integrex: Connection, held: threading.Event) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=100)
    tickets = [make_ticket(next_poll_at=timezone.now() - timedelta(seconds=10 - i))
               for i in range(4)]
    thread, out = _candidates_locked_by_another_claimer(2, held)  # the two soonest
    with transaction.atomic():
        with connection.cursor() as cursor:  # a claimer that waited would fail here
            cursor.execute("SET LOCAL lock_timeout = '5s'")
        second = engine.claim_due("owner-b", 10)
    held.set()
    thread.join(30)
    assert out == [[tickets[0].pk, tickets[1].pk]]
    assert second == [tickets[2].pk, tickets[3].pk]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_claimers_of_one_connection_at_once_never_exceed_its_cap(
        make_ticket: MakeTicket, integrex: Connection, held: threading.Event,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Claimer A has leased the only place under the cap but not committed; B, counting
    # busy tickets now, would see none (A's lease is not visible yet) and take a second.
    # The connection's row lock makes B wait for A's commit, and then count A's lease.
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=1)
    for _ in range(3):  # A's candidates lock two rows (twice its limit): B finds the third
        make_ticket()
    thread_a, out_a = _claim_one_paused_after_its_lease(monkeypatch, held)
    thread_b, out_b = _in_thread(lambda: engine.claim_due("owner-b", 1))
    # B is either blocked on the connection's lock or (were it not serialised) done.
    deadline = time.monotonic() + 30
    while thread_b.is_alive() and not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.01)
    held.set()
    thread_a.join(30)
    thread_b.join(30)
    assert len(out_a) == 1 and len(out_a[0]) == 1
    assert out_b == [[]]
    assert Ticket.objects.exclude(lease_owner="").values_list("lease_owner", flat=True).get(
        ) == "owner-a"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_claim_locks_only_twice_its_places_so_a_claimer_beside_it_gets_the_rest(
        make_ticket: MakeTicket, integrex: Connection, payer: Connection,
        held: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    # A claims one place: its candidates, the two soonest (integrex's), stay row-locked
    # until it commits (paused after its lease). B, claiming at that moment, passes over
    # them and takes payer's four. A claim that locked every due row, or three times its
    # places (one of payer's, and so payer's connection row), would leave B nothing, or
    # keep it waiting on that lock.
    Connection.objects.filter(pk__in=[integrex.pk, payer.pk]).update(max_concurrency=100)
    now = timezone.now()
    tickets = [make_ticket(connection=integrex if i < 2 else payer,
                           next_poll_at=now - timedelta(seconds=10 - i)) for i in range(6)]
    thread_a, out_a = _claim_one_paused_after_its_lease(monkeypatch, held)
    with transaction.atomic():
        with connection.cursor() as cursor:  # a claimer that waited would fail here
            cursor.execute("SET LOCAL lock_timeout = '5s'")
        second = engine.claim_due("owner-b", 10)
    held.set()
    thread_a.join(30)
    assert out_a == [[tickets[0].pk]]
    assert second == [t.pk for t in tickets[2:]]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_hand_over_passes_over_a_ticket_another_claimer_has_locked_without_waiting(
        make_ticket: MakeTicket, echo_kind: engine.Kind, integrex: Connection,
        held: threading.Event) -> None:
    Connection.objects.filter(pk=integrex.pk).update(max_concurrency=100)
    first, locked_one, free_one = (
        make_ticket(next_poll_at=timezone.now() - timedelta(seconds=10 - i)) for i in range(3))
    [claimed] = engine.claim_tickets("owner-a", 1, count_attempts=True)
    thread, out = _candidates_locked_by_another_claimer(1, held)  # the soonest unleased
    with connection.cursor() as cursor:  # a hand-over that waited would fail here
        cursor.execute("SET lock_timeout = '5s'")
    try:
        following = engine.run_step(claimed, "owner-a", engine.HandOver())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    held.set()
    thread.join(30)
    assert claimed.pk == first.pk and out == [[locked_one.pk]]
    assert following is not None and following.pk == free_one.pk
