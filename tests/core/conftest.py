"""Fixtures for the core's tests: a throwaway ticket kind, its tickets, and a pump whose
steps are held."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.utils import timezone

from revcycle import engine
from revcycle.models import Connection, Facility, Ticket


@pytest.fixture
def echo_kind() -> Iterator[engine.Kind]:
    """A kind whose submit and poll each test sets: `echo_kind.submit = lambda t: ...`."""
    kind = engine.register(engine.Kind(
        name="core_echo", label="Echo", service="integrex",
        submit=lambda ticket: engine.Submitted("R-1", 202),
        poll=lambda ticket: engine.Done("done", {"ok": True}, 200),
    ))
    yield kind
    engine.KINDS.pop(kind.name, None)


@pytest.fixture
def make_ticket(st_marys: Facility, integrex: Connection, echo_kind: engine.Kind
                ) -> Callable[..., Ticket]:
    def make(**values: Any) -> Ticket:
        defaults: dict[str, Any] = dict(
            kind=echo_kind.name, facility=st_marys, connection=integrex,
            request={"accountNumber": "ACC1001"}, account_number="ACC1001",
            next_poll_at=timezone.now(),
        )
        defaults.update(values)
        return Ticket.objects.create(**defaults)

    return make


class HeldSteps:
    """echo_kind's submit steps wait at `gate`; the pump's claims are recorded as they
    return, as (places asked, tickets got)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.claims: list[tuple[int, int]] = []

    @contextmanager
    def released_after(self, seconds: float) -> Iterator[None]:
        """Open the gate after `seconds` (a bound for the held steps, longer than the pump
        run inside), and in any case when the block ends."""
        timer = threading.Timer(seconds, self.gate.set)
        timer.start()
        try:
            yield
        finally:
            self.gate.set()
            timer.cancel()


@pytest.fixture
def held_steps(echo_kind: engine.Kind, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldSteps]:
    """For the pump's waits: every step is held until released, every claim counted."""
    held = HeldSteps()

    def submit(ticket: Ticket) -> engine.Step:
        held.gate.wait(30)
        return engine.Submitted("R-1", 200)

    echo_kind.submit = submit
    real_claim = engine.claim_tickets

    def counted(owner: str, limit: int, **kwargs: Any) -> list[Ticket]:
        found = real_claim(owner, limit, **kwargs)
        held.claims.append((limit, len(found)))
        return found

    monkeypatch.setattr(engine, "claim_tickets", counted)
    yield held
    held.gate.set()  # no thread is left waiting, whatever the test did
