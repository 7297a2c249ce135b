"""An account's history in time order: lookups, results, status changes, webhooks,
exports, views and notes, with who did it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.apps import apps

from followup import sources
from followup.models import Note
from followup.sources import TimelineEvent
from revcycle.models import AuditEvent, Encounter, Ticket
from revcycle.services import kind_label, outcome_label

MAX_EVENTS = 500


def _who(user: Any) -> str:
    return (user.get_full_name() or user.username) if user else ""


def ticket_events(ticket: Ticket) -> list[TimelineEvent]:
    kind = sources.DOMAIN_LABELS.get(ticket.kind) or kind_label(ticket.kind)
    events = [TimelineEvent(ticket.created_at, "lookup", f"{kind} requested",
                            _who(ticket.created_by), ticket.pk)]
    if ticket.queued_at and (ticket.queued_at - ticket.created_at).total_seconds() > 1:
        events.append(TimelineEvent(ticket.queued_at, "lookup", f"{kind} queued again",
                                    "", ticket.pk))
    if ticket.submitted_at:
        events.append(TimelineEvent(ticket.submitted_at, "status", f"{kind} sent to "
                                    f"{ticket.connection.name}", "", ticket.pk))
    if ticket.finished_at:
        if ticket.state == Ticket.State.DONE:
            text = f"{kind}: {outcome_label(ticket.outcome, ticket.kind)}"
        else:
            text = f"{kind} {ticket.get_state_display().lower()}: {ticket.last_error}"
        state = ticket.outcome or ticket.state
        label = (outcome_label(ticket.outcome, ticket.kind) if ticket.outcome
                 else ticket.get_state_display())
        events.append(TimelineEvent(ticket.finished_at, "result", text, "", ticket.pk,
                                    {"outcome": state, "outcome_label": label}))
    return events


def _object_name(object_type: str) -> str:
    """"claims.claimstatus" reads as the model's verbose name ("claim status")."""
    if not object_type:
        return ""
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type.split(".")[-1]


def audit_text(event: AuditEvent) -> str:
    what = _object_name(event.object_type)
    text = f"{event.get_action_display()} {what} {event.object_id}".strip()
    return f"{text}: {event.detail}" if event.detail else text


def build(encounter: Encounter, tickets: list[Ticket]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for ticket in tickets:
        events.extend(ticket_events(ticket))
    # Notes show themselves, and a ticket's own events say who sent it: their audit rows
    # would say the same thing twice ("Submitted ticket 1: claim status ticket 1").
    audits = (AuditEvent.objects.filter(encounter=encounter).exclude(object_type="followup.note")
              .exclude(object_type="revcycle.ticket", action="submit"))
    for audit in audits.order_by("-at")[:MAX_EVENTS]:
        kind = {"export": "export", "view": "view"}.get(audit.action, "change")
        events.append(TimelineEvent(audit.at, kind, audit_text(audit), audit.username))
    for note in Note.objects.filter(encounter=encounter).select_related("author"):
        events.append(TimelineEvent(note.created_at, "note", note.text, _who(note.author),
                                    note.ticket_id))
    for source in sources.TIMELINE_SOURCES:
        events.extend(source(encounter))
    events.sort(key=lambda e: (e.at, e.kind), reverse=True)
    return events[:MAX_EVENTS]


def latest(events: list[TimelineEvent]) -> datetime | None:
    return events[0].at if events else None
