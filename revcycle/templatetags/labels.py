"""What the screens call a ticket's kind and outcome: the registry's labels
(revcycle/services.py), never the stored names (`claim_status`, `none_found`)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from revcycle import services

register = template.Library()


@register.filter
def kind_label(ticket_kind: str) -> str:
    return services.kind_label(ticket_kind) if ticket_kind else ""


@register.filter
def outcome_of(ticket: Any) -> str:
    """A ticket's outcome in words, in its own kind's labels."""
    return services.outcome_label(ticket.outcome, ticket.kind) if ticket.outcome else ""


@register.filter
def ticket_url(ticket: Any) -> str:
    return services.ticket_url(ticket)


def duration(seconds: float) -> str:
    """"17 s", "3 min 5 s", "2 h 4 min": how long, in words a biller reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.inclusion_tag("revcycle/_waiting.html")
def waiting(ticket: Any) -> dict[str, Any]:
    """What an open lookup is waiting for: how long so far, when the next check is due, and
    whether its connection is on hold (then nothing moves until an admin clears it)."""
    now = timezone.now()
    due = ticket.next_poll_at
    return {
        "ticket": ticket,
        "waited": duration((now - ticket.created_at).total_seconds()),
        "next_check": "" if due is None else (
            "now" if due <= now else f"in about {duration((due - now).total_seconds())}"),
        "hold": ticket.connection if ticket.connection.is_flagged else None,
    }
