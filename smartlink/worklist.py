"""What Smart invoices put on the follow-up worklist. Registered from
SmartlinkConfig.ready()."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q

from followup.sources import Domain, Source
from revcycle.models import Ticket
from smartlink.flow import KIND


def _not_billed(now: datetime, policy: Any) -> Q:
    # Cancelled by Smart, or still pending past SMART_NOT_BILLED_HOURS: the hospital is
    # not paid until a billing officer acts.
    hours = float(getattr(settings, "SMART_NOT_BILLED_HOURS", 24))
    return Q(kind=KIND, state=Ticket.State.DONE, outcome="cancelled") | Q(
        kind=KIND, state__in=Ticket.OPEN_STATES, created_at__lt=now - timedelta(hours=hours))


DOMAIN = Domain(
    kind=KIND, label="Smart invoices",
    sources=(Source("smart_not_billed", "Smart invoice not Billed", _not_billed,
                    money_at_risk=True),),
)
