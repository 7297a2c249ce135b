"""What payer claims put on the follow-up worklist and on an account's timeline.
Registered from PayerConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q

from followup.sources import Domain, Source, TimelineEvent
from payer.flow import KIND
from payer.models import ClaimEvent, PayerClaim
from revcycle.models import Ticket


def _needs_person(now: datetime, policy: Any) -> Q:
    # Under review is an open ticket the engine keeps polling; past the usual estimate
    # (policy.payer_review_days) a person should call the payer.
    return Q(kind=KIND, state=Ticket.State.DONE, outcome="rejected") | Q(
        kind=KIND, state__in=Ticket.OPEN_STATES,
        created_at__lt=now - timedelta(days=policy.payer_review_days))


def _conflicted(now: datetime, policy: Any) -> Q:
    # A final answer the payer contradicted: kept as it was, for a person to settle. An
    # EXISTS over the conflicted claims (index payer_claim_conflicted, which holds only
    # them): a join to every payer claim made the worklist's OR of sources a LEFT JOIN of
    # the whole ticket table before its LIMIT.
    conflicted = PayerClaim.objects.filter(ticket=OuterRef("pk"), conflict_at__isnull=False)
    return Q(kind=KIND) & Q(Exists(conflicted))


def claim_events(encounter: Any) -> Iterable[TimelineEvent]:
    """Payer claim status changes, webhooks included."""
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


DOMAIN = Domain(
    kind=KIND, label="Payer claims",
    sources=(Source("payer_review", "Payer claim rejected or under review too long",
                    _needs_person),
             Source("payer_conflict", "Payer contradicted a final answer", _conflicted)),
    timeline=(claim_events,),
)
