"""django-q2 entry points for claims. They take ids (or nothing), never patient data."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from payer.models import WebhookDelivery

REFUSED_KEPT_DAYS = 90


def prune_webhook_deliveries() -> int:
    """Forget refused and duplicate webhook deliveries after 90 days (anyone can POST to
    the endpoint, so refused rows must not grow without end). Accepted rows stay: they
    are what makes a replayed event a duplicate."""
    cutoff = timezone.now() - timedelta(days=REFUSED_KEPT_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        received_at__lt=cutoff).exclude(outcome=WebhookDelivery.Outcome.ACCEPTED).delete()
    return deleted
