"""What insurance discovery puts on the follow-up worklist. Registered from
EligibilityConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from eligibility.models import KIND
from followup.sources import Domain, Source
from revcycle.models import Ticket


def _none_found(now: datetime, policy: Any) -> Q:
    return Q(kind=KIND, state=Ticket.State.DONE, outcome="none_found")


DOMAIN = Domain(
    kind=KIND, label="Insurance discovery (Integrex)",
    sources=(Source("discovery_none", "No coverage found", _none_found),),
)
