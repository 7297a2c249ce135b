"""The records every domain shares: facilities, connections, tokens, encounters, the
tickets of the polling engine and their batches, code descriptions and the audit log."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from revcycle import services
from revcycle.crypto import EncryptedJSONField, EncryptedTextField, blind_index, mask_ssn
from revcycle.validators import validate_npi, validate_time_zone


class FacilityQuerySet(models.QuerySet["Facility"]):
    def for_user(self, user: Any) -> FacilityQuerySet:
        """Minimum necessary: staff see their own facilities, admins see all."""
        from revcycle.roles import ADMIN, role_names

        if ADMIN in role_names(user):  # cached on the user for the request
            return self.all()
        return self.filter(members=user)


def default_time_zone() -> str:
    """The server's zone: a facility created without one keeps today's behaviour."""
    return str(settings.TIME_ZONE)


class Facility(models.Model):
    """A billing provider: a hospital, clinic or group billed under one NPI."""

    name = models.CharField(max_length=200)
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    tax_id = models.CharField("tax id", max_length=20, blank=True)
    address = models.CharField(max_length=300, blank=True)
    # Off-hours (the re-check window) are judged on the facility's own clock, not the server's.
    time_zone = models.CharField(
        max_length=64, default=default_time_zone, validators=[validate_time_zone],
        help_text="IANA name, e.g. America/Chicago: the facility's local clock.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                     related_name="facilities")

    objects = FacilityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.npi})"


class ConnectionQuerySet(models.QuerySet["Connection"]):
    def usable(self) -> ConnectionQuerySet:
        return self.filter(active=True, flagged_at__isnull=True)

    def of_kind(self, kind: str) -> ConnectionQuerySet:
        return self.filter(kind=kind)


class Connection(models.Model):
    """Credentials and settings for one external service account."""

    class Environment(models.TextChoices):
        TEST = "T", "T: test data"
        PRODUCTION = "P", "P: production"

    # The registered services (revcycle/services.py); the stored value is the service's kind.
    kind = models.CharField(max_length=20, choices=services.kind_choices)
    name = models.CharField(max_length=100, unique=True)
    environment = models.CharField(
        max_length=1, choices=Environment.choices, default=Environment.TEST,
        help_text="Sent to services that tell test from production data. A new connection "
        "starts in T.",
    )
    base_url = models.URLField(max_length=300, help_text="Without a trailing slash.")
    token_path = models.CharField(
        max_length=100, blank=True,
        help_text="Token endpoint below the base URL; blank means the service's default.",
    )
    health_check_path = models.CharField(max_length=100, blank=True, default="")
    facilities = models.ManyToManyField(Facility, blank=True, related_name="connections")

    client_id = models.CharField(max_length=200, blank=True)
    client_secret = EncryptedTextField(blank=True, default="")
    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True, default="")
    api_key = EncryptedTextField("API key", blank=True, default="")
    provider_id = models.CharField("provider id", max_length=100, blank=True)
    webhook_secret = EncryptedTextField(blank=True, default="")

    poll_interval_seconds = models.PositiveIntegerField(default=15)
    rate_limit_per_second = models.DecimalField(
        max_digits=7, decimal_places=2, default=Decimal("0"),
        help_text="Requests per second across all workers; 0 means no limit.",
    )
    max_concurrency = models.PositiveIntegerField(
        default=16, help_text="Requests in flight at once across all workers."
    )
    active = models.BooleanField(default=True)

    last_health_ok = models.BooleanField(null=True, blank=True)
    last_health_message = models.CharField(max_length=500, blank=True)
    last_health_at = models.DateTimeField(null=True, blank=True)
    # Set on a 402 (credentials or IP allow-list): the engine holds this connection's work
    # until an admin clears it.
    flagged_at = models.DateTimeField(null=True, blank=True)
    flagged_reason = models.CharField(max_length=500, blank=True)
    # Set on a 429: the engine sends nothing to this connection before this time.
    backoff_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.environment})"

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    @property
    def is_flagged(self) -> bool:
        return self.flagged_at is not None

    def flag(self, reason: str) -> None:
        self.flagged_at = timezone.now()
        self.flagged_reason = reason[:500]
        Connection.objects.filter(pk=self.pk).update(
            flagged_at=self.flagged_at, flagged_reason=self.flagged_reason
        )

    def clear_flag(self) -> None:
        self.flagged_at = None
        self.flagged_reason = ""
        Connection.objects.filter(pk=self.pk).update(flagged_at=None, flagged_reason="")


class OAuthToken(models.Model):
    """The one token a connection shares across every worker process."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="token")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_type = models.CharField(max_length=20, default="bearer")
    expires_at = models.DateTimeField(null=True, blank=True)
    obtained_at = models.DateTimeField(null=True, blank=True)
    requests_made = models.PositiveIntegerField(default=0, help_text="Token requests so far.")
    # A short lease taken by the one process that is asking for a new token (oauth.py).
    refreshing_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth token"  # the admin would say "O auth tokens"

    def __str__(self) -> str:
        return f"token for {self.connection.name} until {self.expires_at}"


class EncounterQuerySet(models.QuerySet["Encounter"]):
    def for_user(self, user: Any) -> EncounterQuerySet:
        return self.filter(facility__in=Facility.objects.for_user(user))


class Encounter(models.Model):
    """A patient account: who was seen, by whom, who pays, and what it cost."""

    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="encounters")
    account_number = models.CharField("account number", max_length=50)
    account_number2 = models.CharField("second account number", max_length=50, blank=True)
    smart_patient_number = models.CharField("Smart patient file number", max_length=50, blank=True)

    patient_first_name = models.CharField(max_length=100)
    patient_last_name = models.CharField(max_length=100)
    patient_dob = models.DateField("patient date of birth", null=True, blank=True)
    patient_gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    patient_ssn = EncryptedTextField("patient SSN", blank=True, default="")
    patient_ssn_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    patient_address = models.CharField(max_length=300, blank=True)

    subscriber_id = models.CharField("member id", max_length=50, blank=True)
    subscriber_first_name = models.CharField(max_length=100, blank=True)
    subscriber_last_name = models.CharField(max_length=100, blank=True)
    subscriber_dob = models.DateField("subscriber date of birth", null=True, blank=True)
    subscriber_gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    subscriber_ssn = EncryptedTextField("subscriber SSN", blank=True, default="")

    provider_npi = models.CharField("billing provider NPI", max_length=10, blank=True,
                                    validators=[validate_npi])
    provider_name = models.CharField("billing provider name", max_length=200, blank=True)
    tax_id = models.CharField("tax id", max_length=20, blank=True)
    payer_id = models.CharField("payer id", max_length=50, blank=True)
    payer_name = models.CharField(max_length=200, blank=True)
    service_date_from = models.DateField("date of service", null=True, blank=True)
    service_date_to = models.DateField("last date of service", null=True, blank=True)
    total_charges = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EncounterQuerySet.as_manager()

    class Meta:
        ordering = ["-service_date_from", "account_number"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "account_number"], name="uniq_account")
        ]

    def __str__(self) -> str:
        return f"{self.account_number} {self.patient_last_name}, {self.patient_first_name}"

    @property
    def patient_name(self) -> str:
        return f"{self.patient_first_name} {self.patient_last_name}".strip()

    @property
    def masked_ssn(self) -> str:
        return mask_ssn(self.patient_ssn)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.service_date_from and self.service_date_to:
            if self.service_date_to < self.service_date_from:
                errors["service_date_to"] = "The last date of service is before the first."
        if self.patient_dob and self.patient_dob > date.today():
            errors["patient_dob"] = "The date of birth is in the future."
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.patient_ssn_index = blind_index(self.patient_ssn or "", "ssn")
        super().save(*args, **kwargs)


class CodeDescription(models.Model):
    """A description of a code (X12 claim status, CARC, RARC, ICD-10-CM, CPT, HCPCS)."""

    class CodeSet(models.TextChoices):
        CATEGORY = "x12_category", "X12 claim status category"
        STATUS = "x12_status", "X12 claim status"
        CARC = "carc", "Claim adjustment reason (CARC)"
        RARC = "rarc", "Remittance advice remark (RARC)"
        ICD10 = "icd10cm", "ICD-10-CM diagnosis"
        CPT = "cpt", "CPT procedure"
        HCPCS = "hcpcs", "HCPCS Level II"

    code_set = models.CharField(max_length=20, choices=CodeSet.choices)
    code = models.CharField(max_length=20)
    description = models.TextField()
    effective_date = models.DateField(null=True, blank=True)
    deactivation_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code_set", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["code_set", "code", "effective_date"], name="uniq_code_version"
            )
        ]
        # Serves describe(code_set, code): one indexed lookup per code shown.
        indexes = [models.Index(fields=["code_set", "code"], name="code_lookup")]

    def __str__(self) -> str:
        return f"{self.code_set} {self.code}: {self.description[:60]}"


class Batch(models.Model):
    """One uploaded CSV (or a run_batch file): its rows became tickets or row errors.

    A large file is read by a worker (batches.start_reading): the batch waits in READING,
    with its file stored encrypted (UploadChunk), until the worker has read every row."""

    class State(models.TextChoices):
        READING = "reading", "Reading the file"
        READ = "read", "Read"
        UNREADABLE = "unreadable", "The file could not be read"

    kind = models.CharField(max_length=30)
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="batches")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    total_rows = models.PositiveIntegerField(default=0)
    ticket_count = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.READ)
    sheet = models.CharField(max_length=100, blank=True)  # of a workbook read later
    rows_read = models.PositiveIntegerField(default=0)  # progress of a READING batch
    read_attempts = models.PositiveSmallIntegerField(default=0)
    read_error = models.TextField(blank=True)  # why an UNREADABLE file was refused

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"batch {self.pk} {self.kind} ({self.ticket_count} tickets)"


class UploadChunk(models.Model):
    """A piece of a large upload waiting for its worker, Fernet-encrypted (it holds PHI).
    Deleted in the transaction that stores the batch's rows, or when the file is refused."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["batch", "number"]
        constraints = [models.UniqueConstraint(fields=["batch", "number"],
                                               name="one_chunk_per_number")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} chunk {self.number}"


class BatchRowError(models.Model):
    """A CSV row that did not become a ticket, with the reason, kept for download."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="row_errors")
    line_number = models.PositiveIntegerField()
    message = models.TextField()
    raw = EncryptedJSONField(blank=True, null=True)

    class Meta:
        ordering = ["batch", "line_number"]

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message[:60]}"


class TicketQuerySet(models.QuerySet["Ticket"]):
    def for_user(self, user: Any) -> TicketQuerySet:
        return self.filter(facility__in=Facility.objects.for_user(user))

    def of_kind(self, kind: str) -> TicketQuerySet:
        return self.filter(kind=kind)

    def open(self) -> TicketQuerySet:
        return self.filter(state__in=Ticket.OPEN_STATES)

    def due(self, now: Any = None) -> TicketQuerySet:
        """Open tickets whose next step is due and that no worker holds a lease on."""
        now = now or timezone.now()
        return self.filter(state__in=Ticket.OPEN_STATES, next_poll_at__lte=now).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        )

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Ticket]:
        """bulk_create skips save(): derive the list columns here too, so a batch row shows
        its amount and date of service like a single lookup (issue 16)."""
        objs = list(objs)
        for ticket in objs:
            ticket.fill_summary()
        return super().bulk_create(objs, *args, **kwargs)

    def counts(self) -> dict[str, int]:
        # COUNT(*), not COUNT(id): the (batch, state) index then answers alone (an
        # index-only scan). With COUNT(id) PostgreSQL must visit the rows, and for the open
        # states it preferred the engine's partial due index, whose condition the query
        # repeats: a batch page's poll read 20,000 rows, 48 to 90 ms, at a million tickets.
        rows = self.values_list("state").annotate(n=models.Count("*"))
        counts = {state: 0 for state in Ticket.State.values}
        counts.update(dict(rows))
        counts["total"] = sum(n for _, n in rows)
        return counts


class Ticket(models.Model):
    """One request to an asynchronous API, from queued to a final state.

    The engine (revcycle/engine.py) owns the state; domains own the request they send and
    the results they store (linked to the ticket)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTED = "submitted", "Submitted"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    OPEN_STATES = (State.QUEUED, State.SUBMITTED, State.PROCESSING)
    FINAL_STATES = (State.DONE, State.FAILED, State.EXPIRED)
    NOT_DONE_STATES = (*OPEN_STATES, State.FAILED, State.EXPIRED)

    kind = models.CharField(max_length=30)
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="tickets")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="tickets")
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="tickets"
    )
    # The row's line in the uploaded file (the header is line 1), as the batch page and its
    # invalid rows number them; blank for single lookups and batches from before it was kept.
    line_number = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    request = EncryptedJSONField(help_text="The body sent, under the specification's names.")
    request_hash = models.CharField(max_length=64, editable=False)
    # Plain copies for search and display on lists (no SSN, no date of birth).
    account_number = models.CharField(max_length=50, blank=True, db_index=True)
    patient_name = models.CharField(max_length=200, blank=True)
    payer = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                 help_text="Billed amount, for worklists and aging.")
    service_date = models.DateField(null=True, blank=True, help_text="First date of service.")
    # Always set (fill_summary): the follow-up worklist sorts and pages on it with an index,
    # which Coalesce(service_date, the day of created_at) computed per row could not use.
    age_date = models.DateField(null=True, blank=True, editable=False,
                                help_text="The date of service, else the day of the request.")

    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(max_length=20, blank=True, help_text="The plain outcome.")
    remote_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    polls = models.PositiveIntegerField(default=0)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response = EncryptedJSONField(null=True, blank=True, help_text="The raw final answer.")

    next_poll_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(default=timezone.now, help_text="Last (re)queued.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    processing_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When the answer arrived.")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The engine's scan: open tickets whose next step is due.
            models.Index(fields=["state", "next_poll_at"], name="ticket_due"),
            # Batch progress and the batch's rows.
            models.Index(fields=["batch", "state"], name="ticket_batch_state"),
            # Worklists: a kind's tickets for a facility, newest first, by outcome.
            models.Index(fields=["kind", "facility", "-created_at"], name="ticket_worklist"),
            models.Index(fields=["kind", "outcome", "-created_at"], name="ticket_outcome"),
            # The worklists' default order in full (newest first, then id): read in index
            # order, LIMIT 50 stops after 50 rows. ticket_worklist cannot serve it when the
            # user belongs to several facilities (facility IN (...) breaks the order), and
            # the database then sorted every one of the kind's rows on each poll.
            models.Index(fields=["kind", "-created_at", "-id"], name="ticket_kind_recent"),
            # The follow-up worklist's default order (oldest first) and its keyset pages.
            models.Index(fields=["age_date", "id"], name="ticket_age_date_id"),
            # The claim's busy count (revcycle.leasing.busy_counts: a connection's tickets
            # under a live lease). Every step clears its lease, so only the tickets in
            # flight are in it: the count reads a few entries, not the connection's
            # every ticket (82 ms at 100,000 tickets on PostgreSQL, on every claim).
            models.Index(fields=["connection", "lease_until"], name="ticket_busy_lease",
                         condition=Q(lease_until__isnull=False)),
            # The claim's candidates (revcycle.leasing.candidates): open tickets, soonest
            # due first, LIMIT a few. ticket_due cannot give them in that order (state IN
            # three values), so the database read and sorted every due ticket at each
            # claim, all 10,000 of a batch being sent, FOR UPDATE keeping the sort unbounded.
            models.Index(fields=["next_poll_at"], name="ticket_open_due",
                         condition=Q(state__in=["queued", "submitted", "processing"])),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ticket {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def age(self) -> timedelta:
        """Time since the request was last queued (a "check again" starts the clock anew)."""
        return timezone.now() - self.queued_at

    @staticmethod
    def hash_request(kind: str, connection_id: int, request: dict[str, Any]) -> str:
        body = json.dumps(request, sort_keys=True, default=str)
        return hashlib.sha256(f"{kind}:{connection_id}:{body}".encode()).hexdigest()

    def fill_summary(self) -> None:
        """Derive the plain list columns from the request (also before bulk_create): the
        ticket kind's registered summary fills what the caller left blank."""
        if self.request and not self.request_hash:
            self.request_hash = self.hash_request(self.kind, self.connection_id, self.request)
        if isinstance(self.request, dict):
            summary = services.summarise(self.kind, self.request)
            self.account_number = self.account_number or summary.account[:50]
            self.patient_name = self.patient_name or summary.patient[:200]
            self.payer = self.payer or summary.payer[:200]
            if self.amount is None:
                self.amount = summary.amount
            if self.service_date is None:
                self.service_date = summary.service_date
        self.age_date = self.service_date or self.request_day()

    def request_day(self) -> date:
        """The local day the request was made (today for one not saved yet)."""
        return timezone.localtime(self.created_at).date() if self.created_at else \
            timezone.localdate()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.fill_summary()
        super().save(*args, **kwargs)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk changes would bypass the append-only rule of save() and delete(). These are the
    Python guards; on PostgreSQL a trigger refuses UPDATE and DELETE whatever the path
    (migration 0006)."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")

    def _update(self, values: Any) -> Any:
        raise PermissionError("audit events are append-only")

    def _raw_delete(self, using: Any) -> int:
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """Append-only: who viewed, exported or changed what, and when. Never holds PHI."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        SUBMIT = "submit", "Submitted"
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Failed login"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # The links keep their ids when the user, facility or encounter is deleted: no database
    # constraint and DO_NOTHING, so a deletion neither nulls (an UPDATE the trigger refuses)
    # nor loses who and what a row is about. `username` keeps the name as well.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.DO_NOTHING,
                                 db_constraint=False, related_name="+")
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="audit_events",
    )
    detail = models.CharField(max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        # Related lookups and Django internals use the base manager: make it the guarded one.
        base_manager_name = "objects"
        # Role permissions (revcycle/roles.py) hang off this model's content type.
        permissions = [
            ("run_lookups", "Can run lookups and submit claims"),
            ("view_results", "Can see results"),
            ("export_results", "Can export results as CSV"),
            ("manage_batches", "Can manage batches"),
            ("view_audit_log", "Can read the audit log"),
            ("override_duplicates", "Can override a duplicate invoice"),
            ("manage_connections", "Can manage connections"),
            ("switch_environment", "Can switch a connection between T and P"),
            ("activate_smart_session", "Can activate Smart sessions"),
        ]
        indexes = [
            # The audit screen's filters: an object's history and a person's actions.
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["user", "-at"], name="audit_user"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.object_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit events are append-only")

    def save_base(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save_base(*args, **kwargs)

    def _do_update(self, *args: Any, **kwargs: Any) -> bool:
        raise PermissionError("audit events are append-only")


class RateWindow(models.Model):
    """Requests sent to a connection in one second, shared by every worker (throttle.py)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE)
    second = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "second"], name="uniq_rate_window")
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}@{self.second}: {self.count}"


class ConnectionMinute(models.Model):
    """Requests to one connection in one minute, with a latency histogram (metrics.py)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    # Counts per revcycle.metrics.BOUNDS_MS bucket, plus one for slower answers.
    latency_buckets = models.JSONField(default=list)

    class Meta:
        # The table the follow-up app created before the model moved here; every row stays.
        db_table = "followup_connectionminute"
        verbose_name = "requests per minute"  # not "Connection minutes"
        verbose_name_plural = "requests per minute"
        constraints = [
            # Also serves summary(connection, since): WHERE connection_id = ? AND minute >= ?.
            models.UniqueConstraint(fields=["connection", "minute"], name="uniq_connection_minute")
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}@{self.minute:%Y-%m-%d %H:%M}: {self.requests}"


class EnginePump(models.Model):
    """A running engine pump's heartbeat, so the scheduler starts one only where none runs."""

    slot = models.PositiveSmallIntegerField(unique=True)
    owner = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    steps_done = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"pump {self.slot} ({self.owner or 'idle'})"
