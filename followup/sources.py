"""What puts a ticket on the worklist, and what else an account's timeline shows.

followup names no domain: each domain app (claims, eligibility, smartlink, payer) declares
a `Domain` in its own `worklist.py` and registers it from its AppConfig.ready(), the way
every registry is filled (engine kinds, batch specs, schedules).

A worklist source is a condition over revcycle.Ticket, so the worklist stays one indexed
query whatever the number of domains."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from revcycle.models import Ticket


@dataclass(frozen=True)
class Source:
    """One reason a ticket needs a person. `condition(now, policy)` is a Q over Ticket."""

    name: str
    label: str
    condition: Callable[[datetime, Any], Q]
    # Counted as money at risk on the dashboard (work done that is not yet billed).
    money_at_risk: bool = False


@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # lookup, result, status, webhook, export, view, change, note
    text: str
    who: str = ""
    ticket_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DenialReasons:
    """Reason codes of a domain's denied tickets, counted, and a note on how."""

    counts: Counter[str]
    note: str = ""


@dataclass(frozen=True)
class Domain:
    """What follow-up knows of one engine kind: all of it comes from the domain's app."""

    kind: str  # the engine kind (revcycle.engine.Kind.name)
    label: str  # as the worklist and the timeline name it
    sources: tuple[Source, ...] = ()
    # Callables (encounter) -> events, for domain records the account timeline shows.
    timeline: tuple[Callable[[Any], Iterable[TimelineEvent]], ...] = ()
    # Outcomes that are not final: the scheduled re-check (rechecks.py) asks again.
    recheck_outcomes: tuple[str, ...] = ()
    # Denied tickets of this kind -> their reason codes (the dashboard's denial chart).
    denial_reasons: Callable[[QuerySet[Ticket]], DenialReasons] | None = None


def _failed(now: datetime, policy: Any) -> Q:
    return Q(state__in=[Ticket.State.FAILED, Ticket.State.EXPIRED]) | Q(
        state=Ticket.State.DONE, outcome="error")


# Any kind's failure needs a person; this one source belongs to no domain.
NEEDS_A_PERSON = Source("error", "Error: needs a person", _failed)

DOMAINS: dict[str, Domain] = {}
DOMAIN_LABELS: dict[str, str] = {}
SOURCES: dict[str, Source] = {NEEDS_A_PERSON.name: NEEDS_A_PERSON}
TIMELINE_SOURCES: list[Callable[[Any], Iterable[TimelineEvent]]] = []


def register(domain: Domain) -> Domain:
    DOMAINS[domain.kind] = domain
    DOMAIN_LABELS[domain.kind] = domain.label
    for source in domain.sources:
        SOURCES[source.name] = source
    for func in domain.timeline:
        if func not in TIMELINE_SOURCES:
            TIMELINE_SOURCES.append(func)
    return domain


def worklist_condition(now: datetime, policy: Any, names: Iterable[str] | None = None) -> Q:
    """Tickets that need a person: any registered source's condition."""
    chosen = [SOURCES[n] for n in (names or SOURCES) if n in SOURCES]
    q = Q(pk__in=[])
    for source in chosen:
        q |= source.condition(now, policy)
    return q


def money_at_risk_condition(now: datetime, policy: Any) -> Q:
    return worklist_condition(now, policy, [n for n, s in SOURCES.items() if s.money_at_risk])

