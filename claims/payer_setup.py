"""Payer claims (HCMS): the engine's ticket kind and the recurring jobs, registered from
ClaimsConfig.ready()."""

from __future__ import annotations


def register() -> None:
    from claims import payer_flow
    from revcycle import engine, schedules

    engine.register(engine.Kind(
        name=payer_flow.KIND, label="Payer claim", service="payer",
        submit=payer_flow.submit, poll=payer_flow.poll, default_interval=30,
        # Reviews take "24-48 hours" (guide); keep polling a claim for up to 14 days.
        max_age_seconds=14 * 24 * 3600,
    ))
    schedules.add("payer claims: forget old refused webhooks",
                  "claims.tasks.prune_webhook_deliveries", 24 * 60)
