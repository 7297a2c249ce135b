"""Claims sent to a payer's claims API (HCMS), their timeline, and the webhooks received.

The request body itself lives encrypted on the claim's engine ticket (`ticket.request`,
under the guide's field names); the claim keeps plain copies of what lists and totals
need (no insurance id, no date of birth) and the payer's answer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, Q, Sum
from django.utils import timezone

from revcycle.crypto import EncryptedJSONField
from revcycle.models import Connection, Encounter, Facility, Ticket
from revcycle.paging import Capped, capped_aggregate


def new_reference() -> str:
    return f"RC-{uuid.uuid4().hex[:12].upper()}"


class PayerClaimQuerySet(models.QuerySet["PayerClaim"]):
    def for_user(self, user: Any) -> PayerClaimQuerySet:
        return self.filter(facility__in=Facility.objects.for_user(user))

    def totals(self, exact: bool = False) -> dict[str, Any]:
        """The sums shown under the list, and the number of claims (one query for both).
        Billed counts what the payer received: not a claim still queued or sending, one it
        refused, or one whose fate is unknown (totals only over what they say).

        Unless `exact`, the query reads at most COUNT_CAP + 1 claims (a page must not add
        up a hundred thousand; revcycle.paging.capped_aggregate): past it, "capped" is
        true, the count is the cap and the sums are None."""
        received = Q(status__in=PayerClaim.RECEIVED)
        sums = {"billed": Sum("amount", filter=received), "expected": Sum("expected_payment"),
                "patient": Sum("patient_responsibility")}
        if exact:
            values = self.aggregate(**sums, count=Count("pk"))
            counted = Capped(values.pop("count"), False, values)
        else:
            counted = capped_aggregate(self, sums)
        if counted.capped:
            return counted.values | {"count": counted.count, "capped": True}
        return {k: v or Decimal("0.00") for k, v in counted.values.items()} | {
            "count": counted.count, "capped": False}


class PayerClaim(models.Model):
    """One claim we sent (or are about to send) to a payer, and what the payer said."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        UNDER_REVIEW = "under_review", "Under review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        PAID = "paid", "Paid"
        ERROR = "error", "Refused (error)"
        UNKNOWN = "unknown", "Outcome unknown — not re-sent"

    FINAL = (Status.APPROVED, Status.REJECTED, Status.PAID, Status.ERROR)
    # The payer's own final answers: once one is given, a different one is a conflict for a
    # person, never applied (approved -> paid is the one step forward).
    DECIDED = (Status.APPROVED, Status.REJECTED, Status.PAID)
    # What the payer received: Billed on the list counts these (not queued, sending,
    # refused or unknown claims).
    RECEIVED = (Status.UNDER_REVIEW, Status.APPROVED, Status.REJECTED, Status.PAID)

    reference = models.CharField(
        max_length=40, unique=True, default=new_reference,
        help_text="Our own reference; also the form's idempotency key (a double-click or a "
                  "resent form finds the claim it already made).",
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="payer_claims")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT,
                                   related_name="payer_claims")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="payer_claims")
    ticket = models.OneToOneField(Ticket, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="payer_claim")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    # Plain copies for lists, filters and totals.
    account_number = models.CharField(max_length=50, blank=True)
    patient_name = models.CharField(max_length=200, blank=True)
    diagnosis_code = models.CharField(max_length=10)
    procedure_code = models.CharField(max_length=10, blank=True)
    date_of_service = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=10, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    status = models.CharField(max_length=14, choices=Status.choices, default=Status.QUEUED)
    claim_id = models.CharField("payer claim id", max_length=100, blank=True)
    message = models.CharField(max_length=500, blank=True, help_text="The payer's message.")
    coverage_message = models.CharField(max_length=500, blank=True)
    review_reason = models.CharField(max_length=500, blank=True)
    estimated_review_time = models.CharField(max_length=100, blank=True)
    reviewer_contact = models.CharField(max_length=200, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    expected_payment = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    patient_responsibility = models.DecimalField(max_digits=12, decimal_places=2, null=True,
                                                 blank=True)
    approved_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    expected_payment_date = models.DateField(null=True, blank=True)
    payment_method = models.CharField(max_length=40, blank=True)
    # payment_processed webhooks (guide: "Webhook Registration", events).
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)
    http_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the payer's last answer.")
    # A later event that contradicted a final answer: kept for a person, never applied.
    conflict = models.CharField(max_length=500, blank=True)
    conflict_at = models.DateTimeField(null=True, blank=True)
    response = EncryptedJSONField(null=True, blank=True, help_text="The payer's last answer.")

    resend_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.SET_NULL, related_name="+")
    resend_confirmed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PayerClaimQuerySet.as_manager()

    class Meta:
        # The tables keep the names they had in the claims app (no data moved).
        db_table = "claims_payerclaim"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list: a facility's claims, newest first, filtered by status.
            models.Index(fields=["facility", "-created_at"], name="payer_claim_list"),
            models.Index(fields=["facility", "status"], name="payer_claim_status"),
            # The list's default order in full: read in index order, a page stops after 50
            # rows. payer_claim_list cannot serve it for a user of several facilities
            # (facility IN (...) interleaves them), and every claim was sorted on each page.
            models.Index(fields=["-created_at", "-id"], name="payer_claim_recent"),
            # The follow-up worklist's "payer contradicted a final answer" source: EXISTS
            # (a conflicted claim of this ticket). Only conflicted claims are in it, so it
            # stays a few entries whatever the number of claims.
            models.Index(fields=["ticket"], condition=Q(conflict_at__isnull=False),
                         name="payer_claim_conflicted"),
        ]
        constraints = [
            # The webhook's lookup (connection, claim_id); a payer id names one claim.
            models.UniqueConstraint(fields=["connection", "claim_id"], condition=~Q(claim_id=""),
                                    name="uniq_payer_claim_id"),
        ]

    def __str__(self) -> str:
        return f"payer claim {self.reference} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def is_waiting(self) -> bool:
        """The page keeps polling its fragment while this is true."""
        return self.status in (self.Status.QUEUED, self.Status.SENDING,
                               self.Status.UNDER_REVIEW)


class ClaimEvent(models.Model):
    """One step of a claim's timeline: what changed, when, and who told us."""

    class Source(models.TextChoices):
        FORM = "form", "Biller"
        SUBMIT = "submit", "Payer's answer"
        POLL = "poll", "Status check"
        WEBHOOK = "webhook", "Payer webhook"
        PERSON = "person", "Staff"

    claim = models.ForeignKey(PayerClaim, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=14, choices=PayerClaim.Status.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    needs_person = models.BooleanField(
        default=False, help_text="A conflicting answer the payer gave; a person decides.")
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        # The tables keep the names they had in the claims app (no data moved).
        db_table = "claims_claimevent"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.status} via {self.source}"


class WebhookDelivery(models.Model):
    """Every POST to a connection's webhook endpoint: accepted, a duplicate, or refused and
    why. Holds no patient data (no body), only ids and digests."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate (already processed)"
        REFUSED = "refused", "Refused"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE,
                                   related_name="webhook_deliveries")
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    http_status = models.PositiveSmallIntegerField()
    event_key = models.CharField(max_length=100, blank=True,
                                 help_text="The event id, or the content key when none.")
    content_key = models.CharField(
        max_length=64, blank=True,
        help_text="sha256 of (claim id, event type, new status, timestamp, payment): a "
                  "re-serialised copy of an event has the same one.")
    event_type = models.CharField(max_length=40, blank=True)
    body_digest = models.CharField(max_length=64, blank=True)
    signed_by = models.CharField(max_length=10, blank=True,
                                 help_text="header, header-ts (timestamped), body or none")
    payer_claim_id = models.CharField(max_length=100, blank=True)
    new_status = models.CharField(max_length=20, blank=True)
    claim = models.ForeignKey(PayerClaim, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="webhook_deliveries")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        # The tables keep the names they had in the claims app (no data moved).
        db_table = "claims_webhookdelivery"
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # An event takes effect once: the accepted row is created in the same
            # transaction as the claim's change, so a replay or a retry loses the race here.
            models.UniqueConstraint(fields=["connection", "event_key"],
                                    condition=Q(outcome="accepted"), name="uniq_webhook_event"),
            models.UniqueConstraint(fields=["connection", "body_digest"],
                                    condition=Q(outcome="accepted"), name="uniq_webhook_body"),
            models.UniqueConstraint(fields=["connection", "content_key"],
                                    condition=Q(outcome="accepted") & ~Q(content_key=""),
                                    name="uniq_webhook_content"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.event_key[:20]} {self.outcome} ({self.http_status})"


class WebhookSettings(models.Model):
    """How one payer connection signs its webhooks (the guide names no header)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE,
                                      related_name="payer_webhook_settings")
    signature_header = models.CharField(max_length=60, default="X-Webhook-Signature")
    timestamp_header = models.CharField(
        max_length=60, default="X-Webhook-Timestamp",
        help_text="When a delivery carries it, the signature is over "
                  "f\"{timestamp}.{raw body}\" and a stale timestamp is refused.")

    class Meta:
        verbose_name_plural = "webhook settings"

    def __str__(self) -> str:
        return f"webhook settings for {self.connection}"

    @classmethod
    def for_connection(cls, connection: Connection) -> WebhookSettings:
        """The saved settings, or the defaults (unsaved) when none were saved."""
        found = cls.objects.filter(connection=connection).first()
        return found or cls(connection=connection)
