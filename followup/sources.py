"""What puts a ticket on the worklist, by domain, and what else an account's timeline
shows. A domain adds its own source here (from its AppConfig.ready()) without followup
importing its models.

A worklist source is a condition over revcycle.Ticket, so the worklist stays one indexed
query whatever the number of domains. Ticket kinds named here are the engine kinds of the
domains (claims/flow.py, eligibility/flow.py, smartlink/flow.py,
payer/flow.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from revcycle.models import Ticket

CLAIM_STATUS = "claim_status"
DISCOVERY = "discovery"
SMART_INVOICE = "smart_invoice_status"
PAYER_CLAIM = "payer_claim"

DOMAIN_LABELS: dict[str, str] = {
    CLAIM_STATUS: "Claim status (Integrex)",
    DISCOVERY: "Insurance discovery (Integrex)",
    SMART_INVOICE: "Smart invoices",
    PAYER_CLAIM: "Payer claims",
}


@dataclass(frozen=True)
class Source:
    """One reason a ticket needs a person. `condition(now, policy)` is a Q over Ticket."""

    name: str
    label: str
    condition: Callable[[datetime, Any], Q]
    # Counted as money at risk on the dashboard (Smart invoices not Billed).
    money_at_risk: bool = False


@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # lookup, result, status, webhook, export, view, change, note
    text: str
    who: str = ""
    ticket_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


SOURCES: dict[str, Source] = {}
# Callables (encounter) -> events, for domain records the account timeline should show.
TIMELINE_SOURCES: list[Callable[[Any], Iterable[TimelineEvent]]] = []


def register(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


def register_timeline(func: Callable[[Any], Iterable[TimelineEvent]]) -> None:
    if func not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(func)


def worklist_condition(now: datetime, policy: Any, names: Iterable[str] | None = None) -> Q:
    """Tickets that need a person: any registered source's condition."""
    chosen = [SOURCES[n] for n in (names or SOURCES) if n in SOURCES]
    q = Q(pk__in=[])
    for source in chosen:
        q |= source.condition(now, policy)
    return q


def _failed(now: datetime, policy: Any) -> Q:
    return Q(state__in=[Ticket.State.FAILED, Ticket.State.EXPIRED]) | Q(
        state=Ticket.State.DONE, outcome="error")


def _claim_needs_person(now: datetime, policy: Any) -> Q:
    return Q(kind=CLAIM_STATUS, state=Ticket.State.DONE,
             outcome__in=["denied", "rejected", "not_found"])


def _claim_pending_late(now: datetime, policy: Any) -> Q:
    return Q(kind=CLAIM_STATUS, state=Ticket.State.DONE, outcome="pending",
             created_at__lt=now - timedelta(days=policy.pending_worklist_days))


def _discovery_none(now: datetime, policy: Any) -> Q:
    return Q(kind=DISCOVERY, state=Ticket.State.DONE, outcome="none_found")


def _smart_not_billed(now: datetime, policy: Any) -> Q:
    # Cancelled by Smart, or still pending past SMART_NOT_BILLED_HOURS (smartlink's setting).
    hours = float(getattr(settings, "SMART_NOT_BILLED_HOURS", 24))
    return Q(kind=SMART_INVOICE, state=Ticket.State.DONE, outcome="cancelled") | Q(
        kind=SMART_INVOICE, state__in=Ticket.OPEN_STATES,
        created_at__lt=now - timedelta(hours=hours))


def _payer_needs_person(now: datetime, policy: Any) -> Q:
    # Under review is an open ticket the engine keeps polling; past the usual estimate
    # (policy.payer_review_days) a person should call the payer.
    return Q(kind=PAYER_CLAIM, state=Ticket.State.DONE, outcome="rejected") | Q(
        kind=PAYER_CLAIM, state__in=Ticket.OPEN_STATES,
        created_at__lt=now - timedelta(days=policy.payer_review_days))


register(Source("claim_denied", "Denied, rejected or not found", _claim_needs_person))
register(Source("claim_pending", "Pending past the threshold", _claim_pending_late))
register(Source("discovery_none", "No coverage found", _discovery_none))
register(Source("smart_not_billed", "Smart invoice not Billed", _smart_not_billed,
                money_at_risk=True))
register(Source("payer_review", "Payer claim rejected or under review too long",
                _payer_needs_person))
register(Source("error", "Error: needs a person", _failed))


def money_at_risk_condition(now: datetime, policy: Any) -> Q:
    return worklist_condition(now, policy, [n for n, s in SOURCES.items() if s.money_at_risk])



def _payer_claim_events(encounter: Any) -> Iterable[TimelineEvent]:
    """Payer claim status changes, webhooks included (payer/models.py)."""
    try:
        from payer.models import ClaimEvent
    except ImportError:  # the payer claims app is not installed on this deployment
        return []
    rows = (ClaimEvent.objects.filter(claim__encounter=encounter)
            .select_related("claim").order_by("-at")[:200])
    events = []
    for e in rows:
        text = (f"Payer claim {e.claim.reference}: {e.get_status_display()} "
                f"({e.get_source_display().lower()})")
        if e.message:
            text += f": {e.message}"
        events.append(TimelineEvent(e.at, "webhook" if e.source == "webhook" else "status",
                                    text, "", e.claim.ticket_id, {"outcome": e.status}))
    return events


register_timeline(_payer_claim_events)
