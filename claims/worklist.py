"""What claim status puts on the follow-up worklist, what it re-checks, and where the
dashboard reads its denial reasons. Registered from ClaimsConfig.ready()."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet

from claims.flow import KIND
from claims.models import ServiceLine
from followup.sources import DenialReasons, Domain, Source
from revcycle.csvio import lenient_get
from revcycle.models import Ticket

DENIAL_SAMPLE = 300  # responses decrypted at most per dashboard view


def _needs_person(now: datetime, policy: Any) -> Q:
    return Q(kind=KIND, state=Ticket.State.DONE, outcome__in=["denied", "rejected", "not_found"])


def _pending_late(now: datetime, policy: Any) -> Q:
    return Q(kind=KIND, state=Ticket.State.DONE, outcome="pending",
             created_at__lt=now - timedelta(days=policy.pending_worklist_days))


def _carc_codes(response: Any) -> list[str]:
    # The CARC is reasonSourceCd3 on each service line (docs/integrex.md, "Claim status").
    lines = response if isinstance(response, list) else [response]
    codes: set[str] = set()
    for line in lines:
        if isinstance(line, dict):
            code = str(lenient_get(line, "reasonSourceCd3", default="") or "").strip()
            if code:
                codes.add(code)
    return sorted(codes)


def denial_reasons(denied: QuerySet[Ticket]) -> DenialReasons:
    """CARC codes from the stored service lines (one aggregate query), else from at most
    DENIAL_SAMPLE raw answers (tickets answered before their lines were stored)."""
    lines = ServiceLine.objects.filter(result__ticket__in=denied.values("pk"))
    if lines.exists():
        rows = (lines.exclude(reason_code3="").values("reason_code3")
                .annotate(n=Count("result__ticket", distinct=True)))
        return DenialReasons(Counter({r["reason_code3"]: r["n"] for r in rows}))
    counts: Counter[str] = Counter()
    for response in (denied.order_by("-finished_at")
                     .values_list("response", flat=True)[:DENIAL_SAMPLE]):
        counts.update(_carc_codes(response))
    return DenialReasons(counts, note=f" (at most {DENIAL_SAMPLE} most recent)")


DOMAIN = Domain(
    kind=KIND, label="Claim status (Integrex)",
    sources=(
        Source("claim_denied", "Denied, rejected or not found", _needs_person),
        Source("claim_pending", "Pending past the threshold", _pending_late),
    ),
    recheck_outcomes=("pending", "not_found"),
    denial_reasons=denial_reasons,
)
