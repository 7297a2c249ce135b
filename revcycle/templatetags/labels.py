"""What the screens call a ticket's kind and outcome: the registry's labels
(revcycle/services.py), never the stored names (`claim_status`, `none_found`)."""

from __future__ import annotations

from typing import Any

from django import template

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
