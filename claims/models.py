"""Claim status results: what the payer said about one claim (Integrex claim-info), read
from the raw answer the ticket keeps (Ticket.response) into columns the pages filter on.

Integrex answers per service line, with the claim-level fields repeated on each line
(docs/integrex.md, "Claim status"): ClaimStatusResult holds the
claim level (from the first line), ServiceLine one row per line."""

from __future__ import annotations

from django.db import models

from revcycle.models import Ticket


class ClaimStatusResult(models.Model):
    """The claim-level answer of one claim status ticket (replaced when checked again)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="claim_result")

    internal_account_number = models.CharField(max_length=100, blank=True)
    internal_account_number2 = models.CharField(max_length=100, blank=True)
    patient_first_name = models.CharField(max_length=100, blank=True)
    patient_last_name = models.CharField(max_length=100, blank=True)
    sub_id = models.CharField("member id", max_length=100, blank=True)
    billing_entity_name = models.CharField(max_length=200, blank=True)
    response_date = models.DateField(null=True, blank=True)
    payer_id = models.CharField(max_length=100, blank=True)
    payer_contact_name = models.CharField(max_length=200, blank=True)
    payer_contact_phone = models.CharField(max_length=50, blank=True)
    date_of_service = models.DateField(null=True, blank=True)
    payer_claim_number = models.CharField(max_length=100, blank=True)
    claim_receipt_date = models.DateField(null=True, blank=True)
    charge_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    payment_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    adjudication_date = models.DateField(null=True, blank=True)
    check_date = models.DateField(null=True, blank=True)
    check_number = models.CharField("check or EFT number", max_length=100, blank=True)
    check_status = models.CharField(max_length=100, blank=True)
    date_check_cashed = models.DateField(null=True, blank=True)
    # dateCheckCashed "null": an EFT, or cashing does not apply.
    is_eft = models.BooleanField(default=False)

    category_code = models.CharField(max_length=10, blank=True)
    status_code = models.CharField(max_length=10, blank=True)
    category_description = models.TextField(blank=True)
    status_description = models.TextField(blank=True)

    authorization_case_id = models.CharField(max_length=100, blank=True)
    authorization_description = models.TextField(blank=True)
    integrex_id = models.CharField(max_length=100, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The worklist's "date of service" range filter.
            models.Index(fields=["date_of_service"], name="claim_result_dos"),
        ]

    def __str__(self) -> str:
        return f"claim status of ticket {self.ticket_id}: {self.category_code}/{self.status_code}"


class ServiceLine(models.Model):
    """One service line of a claim status answer, with its own status and denial reasons."""

    result = models.ForeignKey(ClaimStatusResult, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(help_text="Order in the answer.")
    svc_line = models.IntegerField(null=True, blank=True)
    procedure_qualifier = models.CharField(max_length=10, blank=True)
    procedure_code = models.CharField(max_length=20, blank=True)
    revenue_code = models.CharField(max_length=10, blank=True)
    units = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    charge_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    payment_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    allowed_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    coinsurance_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True,
                                             blank=True)
    copay_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    noncovered_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True,
                                            blank=True)
    category_code = models.CharField(max_length=10, blank=True)
    status_code = models.CharField(max_length=10, blank=True)
    category_description = models.TextField(blank=True)
    status_description = models.TextField(blank=True)
    # reasonSourceCd1: the payer's own remark code; 2: RARC; 3: CARC (for UHC).
    reason_code1 = models.CharField(max_length=20, blank=True)
    reason_text1 = models.TextField(blank=True)
    reason_code2 = models.CharField(max_length=20, blank=True)
    reason_text2 = models.TextField(blank=True)
    reason_code3 = models.CharField(max_length=20, blank=True)
    reason_text3 = models.TextField(blank=True)

    class Meta:
        ordering = ["result", "position"]

    def __str__(self) -> str:
        return f"line {self.svc_line} {self.procedure_code or self.revenue_code}"


