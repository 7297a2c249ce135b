"""The sandbox's own tables. They stand in for the three services' databases and never
refer to the app's tables, so the sandbox can be dropped without touching real data."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

# Smart opens a session for 24 hours; after that Smart staff must open a new one.
SMART_SESSION_HOURS = 24


class SandboxKnobs(models.Model):
    """The runtime-adjustable fault knobs: one row (pk=1). A null field means "not set
    here": the settings value (or the built-in default) applies."""

    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ready_after = models.FloatField(null=True, blank=True, help_text="seconds")
    error_rate = models.FloatField(null=True, blank=True, help_text="0..1")
    rate_429 = models.FloatField(null=True, blank=True, help_text="0..1")
    retry_after = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    token_lifetime = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    revoke_every = models.PositiveIntegerField(null=True, blank=True)
    review_delay = models.FloatField(null=True, blank=True, help_text="seconds")
    billed_after = models.FloatField(null=True, blank=True, help_text="seconds")
    webhook_backoff = models.FloatField(null=True, blank=True, help_text="seconds")
    profile = models.CharField(max_length=10, null=True, blank=True,
                               help_text="standard or strict")
    claim_fault = models.CharField(max_length=10, null=True, blank=True,
                                   help_text="none, timeout or drop")
    hang_seconds = models.FloatField(null=True, blank=True, help_text="seconds")
    index_delay = models.FloatField(null=True, blank=True, help_text="seconds")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "sandbox knobs"

    def __str__(self) -> str:
        return "sandbox knobs"


class RequestCounter(models.Model):
    """How many HTTP requests each sandbox endpoint answered (benchmarks read these)."""

    service = models.CharField(max_length=20)
    endpoint = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["service", "endpoint", "method"]
        constraints = [
            # One row per (service, endpoint, method): the counter increments it with F().
            models.UniqueConstraint(fields=["service", "endpoint", "method"],
                                    name="sandbox_uniq_counter")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.service}/{self.endpoint}: {self.count}"


class SandboxToken(models.Model):
    """An access token issued by the Integrex or Smart stand-in."""

    class Service(models.TextChoices):
        INTEGREX = "integrex", "Integrex"
        SMART = "smart", "Smart"

    service = models.CharField(max_length=20, choices=Service.choices)
    access_token = models.CharField(max_length=100, unique=True)
    # Smart only; single-use: a refresh spends it (refresh_used) and issues a new one.
    refresh_token = models.CharField(max_length=100, blank=True, db_index=True)
    refresh_used = models.BooleanField(default=False)
    client_id = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.service} token for {self.client_id} until {self.expires_at}"

    @property
    def is_valid(self) -> bool:
        return not self.revoked and self.expires_at > timezone.now()


class IntegrexTicket(models.Model):
    """A claim-info or insurance-discovery request, answerable once ready_at has passed."""

    class Kind(models.TextChoices):
        CLAIM = "claim-info", "claim status"
        DISCOVERY = "insurance-discovery", "insurance discovery"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    request_json = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"

    @property
    def is_ready(self) -> bool:
        return timezone.now() >= self.ready_at


class SmartSession(models.Model):
    """A visit session Smart staff opened for a patient file number; pk is the sessionId."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        ACTIVE = "ACTIVE"
        EXPIRED = "EXPIRED"

    patient_number = models.CharField(max_length=50, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    visit_number = models.CharField(max_length=100, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"session {self.pk} for {self.patient_number} ({self.current_status})"

    @property
    def expires_at(self) -> datetime:
        return self.opened_at + timedelta(hours=SMART_SESSION_HOURS)

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def current_status(self) -> str:
        """A PENDING session turns EXPIRED by the clock; nothing needs to write that down.
        An ACTIVE (merged) visit stays ACTIVE so its claim can still be posted."""
        if self.status == self.Status.PENDING and self.is_expired:
            return self.Status.EXPIRED
        return self.status

    def as_json(self) -> dict:
        return {
            "sessionId": self.pk,
            "patientNumber": self.patient_number,
            "status": self.current_status,
            "visitNumber": self.visit_number or None,
            "openedAt": self.opened_at.isoformat(),
            "expiresAt": self.expires_at.isoformat(),
        }


class SmartClaim(models.Model):
    """An invoice posted to Smart; its status goes Pending -> Billed (or Cancelled)."""

    invoice_number = models.CharField(max_length=100, unique=True)
    claim_id = models.CharField(max_length=40, unique=True)
    session = models.ForeignKey(SmartSession, on_delete=models.PROTECT, related_name="claims")
    patient_number = models.CharField(max_length=50)
    member_number = models.CharField(max_length=100)
    visit_number = models.CharField(max_length=100)
    benefit_id = models.CharField(max_length=50)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    payload = models.JSONField()
    late_diagnoses = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    billed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Smart invoice {self.invoice_number}"

    @property
    def status(self) -> str:
        # Invoices ending in 7 are deterministically Cancelled so the UI's "not Billed"
        # path can be exercised (smart-api-endpoints.txt, section 6).
        if self.invoice_number.endswith("7"):
            return "Cancelled"
        return "Billed" if timezone.now() >= self.billed_at else "Pending"


class PayerWebhook(models.Model):
    """Where the payer stand-in sends claim_status_update events for one provider."""

    provider_id = models.CharField(max_length=100, unique=True)
    webhook_url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhook for {self.provider_id} -> {self.webhook_url}"


class PayerClaimQuerySet(models.QuerySet["PayerClaim"]):
    def review_due(self) -> PayerClaimQuerySet:
        return self.filter(status=PayerClaim.Status.UNDER_REVIEW, review_due_at__lte=timezone.now())


class PayerClaim(models.Model):
    """A claim submitted to the payer (HCMS) stand-in."""

    class Status(models.TextChoices):
        APPROVED = "approved"
        UNDER_REVIEW = "under_review"
        REJECTED = "rejected"

    claim_id = models.CharField(max_length=40, unique=True)
    provider_id = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=20, choices=Status.choices)
    coverage_validated = models.BooleanField(default=False)
    coverage_message = models.CharField(max_length=300, blank=True)
    auto_approved = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)
    decision_message = models.CharField(max_length=300, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    review_due_at = models.DateTimeField(null=True, blank=True)

    objects = PayerClaimQuerySet.as_manager()

    class Meta:
        indexes = [
            # review_due(): the webhook worker's scan for claims whose review is over.
            models.Index(fields=["status", "review_due_at"], name="sandbox_claim_review_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} ({self.status})"


class WebhookDeliveryQuerySet(models.QuerySet["WebhookDelivery"]):
    def due(self) -> WebhookDeliveryQuerySet:
        return self.filter(status=WebhookDelivery.Status.PENDING,
                           next_attempt_at__lte=timezone.now())


class WebhookDelivery(models.Model):
    """One event to POST to a provider; the body is fixed at creation so every retry
    sends the same bytes (only the header signature's timestamp changes)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(PayerClaim, on_delete=models.CASCADE, related_name="deliveries")
    provider_id = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        indexes = [
            # due(): the worker's scan for deliveries to (re)try now.
            models.Index(fields=["status", "next_attempt_at"], name="sandbox_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.event_id} of {self.claim.claim_id} ({self.status})"
