"""Follow-up: who works which ticket, their notes, saved worklist views, the re-check
schedule and its runs, per-minute request metrics of each connection, and digest settings.

The worklist itself is a query over revcycle.Ticket (followup/worklist.py); a FollowUp row
exists only once someone assigns, notes or resolves a ticket."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils import timezone

from revcycle.models import Encounter, Ticket

POLICY_CACHE_KEY = "followup.recheck_policy"
POLICY_CACHE_SECONDS = 60


class FollowUp(models.Model):
    """A person's hold on a worklist ticket: assignment and resolution."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="followup")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="followups",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_reason = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "follow-up"  # not "Follow ups"
        verbose_name_plural = "follow-ups"
        indexes = [
            # The worklist's assignee filter ("mine", a colleague's) and the digest's
            # per-assignee scan: followup_followup WHERE assignee_id = ? AND status = ?.
            models.Index(fields=["assignee", "status"], name="followup_assignee"),
        ]

    def __str__(self) -> str:
        return f"follow-up of ticket {self.ticket_id} ({self.status})"

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> FollowUp:
        return cls.objects.get_or_create(ticket=ticket)[0]

    def assign(self, user: Any) -> None:
        self.assignee = user
        self.save(update_fields=["assignee", "updated_at"])

    def resolve(self, user: Any, reason: str) -> None:
        self.status = self.Status.RESOLVED
        self.resolved_reason = reason[:300]
        self.resolved_by = user
        self.resolved_at = timezone.now()
        self.save(update_fields=["status", "resolved_reason", "resolved_by", "resolved_at",
                                 "updated_at"])

    def reopen(self) -> None:
        self.status = self.Status.OPEN
        self.save(update_fields=["status", "updated_at"])


class Note(models.Model):
    """A person's note on an account, optionally about one of its tickets."""

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="notes")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The account timeline: an encounter's notes in time order.
            models.Index(fields=["encounter", "created_at"], name="followup_note_timeline"),
        ]

    def __str__(self) -> str:
        return f"note {self.pk} on encounter {self.encounter_id}"


class SavedView(models.Model):
    """A person's named worklist filter (the query string of the worklist page)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="saved_views")
    name = models.CharField(max_length=80)
    querystring = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="uniq_saved_view")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class RecheckPolicy(models.Model):
    """The one schedule of automatic claim status re-checks (a singleton, pk=1)."""

    enabled = models.BooleanField(default=True)
    first_after_days = models.PositiveIntegerField(
        default=7, help_text="Do not re-check a claim sooner than this after it was submitted.")
    every_days = models.PositiveIntegerField(
        default=3, help_text="Then re-check every this many days.")
    max_age_days = models.PositiveIntegerField(
        default=90, help_text="Stop re-checking a claim this long after it was submitted.")
    window_start = models.TimeField(default=time(1, 0),
                                    help_text="Off-hours window start (local time).")
    window_end = models.TimeField(default=time(5, 0), help_text="Off-hours window end.")
    chunk_size = models.PositiveIntegerField(
        default=500, help_text="At most this many claims requeued per run (every 15 minutes).")
    pending_worklist_days = models.PositiveIntegerField(
        default=30, help_text="A claim still pending this long after submission joins the "
        "worklist.")
    payer_review_days = models.PositiveIntegerField(
        default=14, help_text="A payer claim under review this long (when the payer gave no "
        "estimate) joins the worklist.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "re-check policy"
        verbose_name_plural = "re-check policy"

    def __str__(self) -> str:
        return (f"re-check after {self.first_after_days} d, every {self.every_days} d, "
                f"{self.window_start:%H:%M}-{self.window_end:%H:%M}")

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        cache.delete(POLICY_CACHE_KEY)

    @classmethod
    def get(cls) -> RecheckPolicy:
        return cls.objects.get_or_create(pk=1)[0]

    @classmethod
    def cached(cls) -> RecheckPolicy:
        """The policy as the worklist reads it on every request: at most
        POLICY_CACHE_SECONDS old in another process (saving it here forgets it at once)."""
        policy = cache.get_or_set(POLICY_CACHE_KEY, cls.get, POLICY_CACHE_SECONDS)
        return policy if policy is not None else cls.get()


class RecheckRun(models.Model):
    """One run of the scheduled re-check task, with what it did or why it did nothing."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    considered = models.PositiveIntegerField(default=0)
    requeued = models.PositiveIntegerField(default=0)
    skipped_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "re-check run"  # spelt as the re-check policy is

    def __str__(self) -> str:
        return f"re-check run {self.started_at:%Y-%m-%d %H:%M}: {self.requeued} requeued"


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    daily_digest = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user_id}: digest {'on' if self.daily_digest else 'off'}"

    @classmethod
    def wants_digest(cls, user: Any) -> bool:
        pref = cls.objects.filter(user=user).first()
        return pref is None or pref.daily_digest


class DigestSent(models.Model):
    """One row per person and day: the digest goes out at most once a day."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "date"], name="uniq_digest_day")]
        verbose_name = "digest sent"
        verbose_name_plural = "digests sent"  # not "Digest sents"

    def __str__(self) -> str:
        return f"digest to {self.user_id} on {self.date}"
