"""Fixtures for the core's tests: a clean token cache, and a throwaway ticket kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
