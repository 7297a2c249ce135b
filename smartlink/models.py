"""Smart (SmartLink) visits: the session Smart opens for a patient file number, the member
and benefits it carries, the invoice the hospital posts against a benefit, and the history
of every step (smart-api-endpoints.txt)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from revcycle.crypto import EncryptedJSONField, EncryptedTextField
from revcycle.models import Connection, Encounter, Facility, Ticket

# "The session will change the status to expired after 24 hours" (section 2a).
SESSION_HOURS = 24


def not_billed_hours() -> float:
    return float(getattr(settings, "SMART_NOT_BILLED_HOURS", 24))


class SmartFacility(models.Model):
    """The Smart (SmartLink) arrangements of one facility; a facility without a row has the
    defaults (`for_facility`)."""

    facility = models.OneToOneField(Facility, on_delete=models.CASCADE, primary_key=True,
                                    related_name="smart_settings")
    provider_key = models.CharField("Smart provider key", max_length=100, blank=True)
    manages_copay = models.BooleanField(
        "Smart manages co-pays", default=False,
        help_text="Only where the facility lets Smart manage co-pays and the insurer knows.",
    )
    late_diagnosis = models.BooleanField(
        "late diagnoses arranged with Smart", default=False,
        help_text="Allows sending a diagnosis after the patient left (clinic-record).",
    )

    class Meta:
        verbose_name = "Smart settings"
        verbose_name_plural = "Smart settings"

    def __str__(self) -> str:
        return f"Smart settings of {self.facility}"

    @classmethod
    def for_facility(cls, facility: Facility) -> SmartFacility:
        """The facility's settings, or unsaved defaults when it has none."""
        try:
            return facility.smart_settings  # type: ignore[attr-defined, no-any-return]
        except cls.DoesNotExist:
            return cls(facility=facility)


class SmartSessionQuerySet(models.QuerySet["SmartSession"]):
    def for_user(self, user: Any) -> SmartSessionQuerySet:
        return self.filter(facility__in=Facility.objects.for_user(user))

    def lapsed(self, now: Any = None) -> SmartSessionQuerySet:
        """PENDING sessions past their 24 hours: Smart has expired them."""
        return self.filter(status=SmartSession.Status.PENDING,
                           expires_at__lte=now or timezone.now())


class SmartSession(models.Model):
    """A visit session Smart opened for a patient file number (section 2)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        ACTIVE = "ACTIVE", "Active"
        EXPIRED = "EXPIRED", "Expired"

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT,
                                   related_name="smart_sessions")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="smart_sessions")
    session_id = models.CharField("Smart session id", max_length=50)
    patient_number = models.CharField("patient file number", max_length=50, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    opened_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    visit_number = models.CharField("visit (encounter) number", max_length=100, blank=True)
    # Smart sent no opening or expiry time: the 24 hours run from when revcycle first saw
    # the session, and the screen says so.
    times_estimated = models.BooleanField(default=False)
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="smart_sessions")
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    # The record of sessions that expired and had to be requested again.
    expired_at = models.DateTimeField(null=True, blank=True)
    renewal_requested_at = models.DateTimeField("new session requested", null=True, blank=True)
    renewal_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SmartSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [models.UniqueConstraint(fields=["connection", "session_id"],
                                               name="uniq_smart_session")]
        indexes = [
            # The expired-sessions record and the lapse sweep.
            models.Index(fields=["status", "expires_at"], name="smart_session_status"),
        ]

    def __str__(self) -> str:
        return f"Smart session {self.session_id} ({self.status})"

    @property
    def time_left(self) -> timedelta:
        return max(self.expires_at - timezone.now(), timedelta(0))

    @property
    def time_left_label(self) -> str:
        seconds = int(self.time_left.total_seconds())
        if seconds <= 0:
            return "expired"
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes:02d} min left" if hours else f"{minutes} min left"

    def mark_expired(self, user: Any = None) -> None:
        if self.status != self.Status.EXPIRED:
            self.status = self.Status.EXPIRED
            self.expired_at = timezone.now()
            self.save(update_fields=["status", "expired_at"])
            self.log("expired", "Smart reports the session expired; ask Smart to open a new one.",
                     user=user)

    @property
    def time_ran_out(self) -> bool:
        return self.expires_at <= timezone.now()

    def log(self, action: str, detail: str = "", user: Any = None,
            raw: Any = None) -> InvoiceEvent:
        who = user if getattr(user, "is_authenticated", False) else None
        return InvoiceEvent.objects.create(session=self, action=action, detail=detail[:500],
                                           user=who, raw=raw)


class SmartMember(models.Model):
    """The member's biodata as Smart sent it for a session (section 3)."""

    session = models.OneToOneField(SmartSession, on_delete=models.CASCADE, related_name="member")
    member_number = EncryptedTextField(blank=True, default="")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.CharField(max_length=20, blank=True)
    gender = models.CharField(max_length=10, blank=True)
    scheme = models.CharField(max_length=200, blank=True)
    insurer = models.CharField(max_length=200, blank=True)
    raw = EncryptedJSONField(null=True, blank=True)
    fetched_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} (session {self.session.session_id})"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SmartBenefit(models.Model):
    """One benefit of the member, with the balance left when it was read."""

    member = models.ForeignKey(SmartMember, on_delete=models.CASCADE, related_name="benefits")
    benefit_id = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    limit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    balance = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.benefit_id})"


class SmartInvoiceQuerySet(models.QuerySet["SmartInvoice"]):
    def for_user(self, user: Any) -> SmartInvoiceQuerySet:
        return self.filter(facility__in=Facility.objects.for_user(user))

    def not_final(self) -> SmartInvoiceQuerySet:
        return self.filter(status__in=SmartInvoice.OPEN_STATUSES)

    def not_billed(self, hours: float | None = None, now: Any = None) -> SmartInvoiceQuerySet:
        """Money at risk: a Cancelled invoice at once (Smart will not pay it), and any other
        not Billed longer after posting than the allowed time."""
        hours = not_billed_hours() if hours is None else hours
        cutoff = (now or timezone.now()) - timedelta(hours=hours)
        waiting = [SmartInvoice.Status.QUEUED, SmartInvoice.Status.UNKNOWN,
                   SmartInvoice.Status.PENDING]
        late = Q(posted_at__lt=cutoff) | Q(posted_at__isnull=True, created_at__lt=cutoff)
        return self.filter(Q(status=SmartInvoice.Status.CANCELLED)
                           | (Q(status__in=waiting) & late))

    def without_diagnosis(self) -> SmartInvoiceQuerySet:
        return self.filter(diagnosis_pending=True).exclude(status=SmartInvoice.Status.REFUSED)

    def same_visit_and_benefit(self, invoice_facility: Facility, visit_number: str,
                               benefit_id: str) -> SmartInvoiceQuerySet:
        """An invoice Smart definitely refused never existed there; every other one counts,
        including one whose post had an unknown outcome (Smart may have stored it)."""
        return self.filter(facility=invoice_facility, visit_number=visit_number,
                           benefit_id=benefit_id).exclude(status=SmartInvoice.Status.REFUSED)


class SmartInvoice(models.Model):
    """An invoice posted to Smart against one benefit of one visit (sections 5 and 6)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        UNKNOWN = "unknown", "Outcome unknown"
        PENDING = "pending", "Pending"
        BILLED = "billed", "Billed"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Refused by Smart"

    OPEN_STATUSES = (Status.QUEUED, Status.UNKNOWN, Status.PENDING)
    BADGES = {"queued": "queued", "unknown": "error", "pending": "pending", "billed": "billed",
              "cancelled": "cancelled", "refused": "rejected"}

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT,
                                   related_name="smart_invoices")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="smart_invoices")
    session = models.ForeignKey(SmartSession, on_delete=models.PROTECT, related_name="invoices")
    invoice_number = models.CharField(max_length=100)
    visit_number = models.CharField(max_length=100)
    patient_number = models.CharField(max_length=50)
    member_number = EncryptedTextField(blank=True, default="")
    smart_benefit = models.ForeignKey(SmartBenefit, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="invoices")
    benefit_id = models.CharField(max_length=50)
    benefit_name = models.CharField(max_length=200, blank=True)
    benefit_balance = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    invoice_date = models.DateField(default=timezone.localdate)
    lines = models.JSONField(default=list)
    diagnoses = models.JSONField(default=list, blank=True)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    copay_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    copay_from_smart = models.BooleanField(default=False)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    smart_claim_id = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Last time the post was sent.")
    posted_at = models.DateTimeField(null=True, blank=True, help_text="Smart confirmed it has it.")
    billed_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    diagnosis_pending = models.BooleanField(default=False)
    diagnosis_sent_at = models.DateTimeField(null=True, blank=True)
    not_billed_reason = models.TextField(blank=True)
    not_billed_reason_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+")
    not_billed_reason_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    ticket = models.OneToOneField(Ticket, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="smart_invoice")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SmartInvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["connection", "invoice_number"],
                                               name="uniq_smart_invoice_number")]
        indexes = [
            # The duplicate check: one invoice per visit and benefit.
            models.Index(fields=["facility", "visit_number", "benefit_id"], name="smart_inv_visit"),
            # The background check and the not-billed list: invoices by status and age.
            models.Index(fields=["status", "posted_at"], name="smart_inv_status"),
        ]

    def __str__(self) -> str:
        return f"Smart invoice {self.invoice_number} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status not in self.OPEN_STATUSES

    @property
    def badge(self) -> str:
        return self.BADGES.get(self.status, "")

    @property
    def amount_at_risk(self) -> Decimal:
        """What the insurer owes: the total less the patient's co-pay."""
        return max(self.total_amount - (self.copay_amount or Decimal("0")), Decimal("0"))

    @property
    def exceeds_balance(self) -> bool:
        return self.benefit_balance is not None and self.amount_at_risk > self.benefit_balance

    def claim_body(self, provider_key: str) -> dict[str, Any]:
        """The JSON posted to api/claims; the sample was not supplied, so this is our design."""
        return {
            "invoiceNumber": self.invoice_number,
            "visitNumber": self.visit_number,
            "benefitId": self.benefit_id,
            "memberNumber": self.member_number,
            "patientNumber": self.patient_number,
            "sessionId": self.session.session_id,
            "providerKey": provider_key,
            "invoiceDate": self.invoice_date.isoformat(),
            "lines": self.lines,
            "diagnoses": self.diagnoses,
            "totalAmount": str(self.total_amount),
            "copayAmount": str(self.copay_amount),
        }

    def log(self, action: str, detail: str = "", user: Any = None,
            raw: Any = None) -> InvoiceEvent:
        return InvoiceEvent.objects.create(
            invoice=self, session_id=self.session_id, action=action, detail=detail[:500],
            user=user if getattr(user, "is_authenticated", False) else None, raw=raw)


class InvoiceEvent(models.Model):
    """One step of a visit or invoice: who did what, when. Holds ids and amounts, no PHI."""

    session = models.ForeignKey(SmartSession, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="events")
    invoice = models.ForeignKey(SmartInvoice, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="events")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)
    detail = models.CharField(max_length=500, blank=True)
    # Smart's answer as it came (an error body), for admins; encrypted as it may echo
    # member data.
    raw = EncryptedJSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def who(self) -> str:
        return self.user.username if self.user else "background check"
