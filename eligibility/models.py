"""Coverages found by insurance discovery: one row per plan, typed, with the raw JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models

from revcycle.crypto import EncryptedJSONField, EncryptedTextField
from revcycle.models import Ticket

KIND = "discovery"


def _amount(label: str) -> models.DecimalField:
    return models.DecimalField(label, max_digits=12, decimal_places=2, null=True, blank=True)


class CoverageQuerySet(models.QuerySet["Coverage"]):
    def for_user(self, user: Any) -> CoverageQuerySet:
        return self.filter(ticket__in=Ticket.objects.for_user(user))


class Coverage(models.Model):
    """A plan Integrex found for a discovery ticket (zero, one or several per ticket).

    Field names follow the specification's response table; the amounts are Decimals (None
    where the payer sent "" or "null"). Addresses are PHI and stored encrypted."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="coverages")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the answer.")

    # Payer
    payer_id1 = models.CharField("payer id", max_length=50, blank=True)
    payer_name1 = models.CharField("payer name", max_length=200, blank=True)
    payer_id2 = models.CharField("payer id 2", max_length=50, blank=True)
    payer_name2 = models.CharField("payer name 2", max_length=200, blank=True)
    payer_phone = models.CharField(max_length=50, blank=True)
    payer_address = models.CharField(max_length=300, blank=True)
    payer_fax = models.CharField(max_length=50, blank=True)
    payer_website = models.CharField(max_length=200, blank=True)
    payer_tpa = models.BooleanField("third party administrator", null=True, blank=True)
    alt_name = models.CharField("alternate payer", max_length=200, blank=True)
    alt_category = models.CharField(max_length=100, blank=True)
    alt_type = models.CharField(max_length=200, blank=True)
    alt_address = models.CharField(max_length=300, blank=True)
    alt_phone = models.CharField(max_length=50, blank=True)

    # Plan and membership
    plan_type_code = models.CharField(max_length=10, blank=True)
    plan_type = models.CharField(max_length=100, blank=True)
    plan_type_description = models.CharField(max_length=200, blank=True)
    member_id = models.CharField("member id", max_length=50, blank=True)
    group_number = models.CharField(max_length=50, blank=True)
    plan_number = models.CharField(max_length=50, blank=True)
    coverage_level_code = models.CharField(max_length=10, blank=True)
    coverage_level_description = models.CharField(max_length=100, blank=True)
    coverage_status_code = models.CharField(max_length=10, blank=True)
    coverage_status_desc = models.CharField("coverage status", max_length=200, blank=True)
    coverage_start_date = models.DateField(null=True, blank=True)
    coverage_end_date = models.DateField(null=True, blank=True)
    relationship_code = models.CharField(max_length=10, blank=True)
    relationship_desc = models.CharField("relationship", max_length=100, blank=True)
    benefit_type_code = models.CharField(max_length=10, blank=True)
    benefit_type_desc = models.CharField("benefit type", max_length=200, blank=True)
    subscriber_first_name = models.CharField(max_length=100, blank=True)
    subscriber_last_name = models.CharField(max_length=100, blank=True)

    # Out of pocket (oop) and deductible (ded): limits and what remains.
    oop_indiv_in = _amount("OOP individual in network")
    oop_indiv_in_remaining = _amount("OOP individual in network remaining")
    oop_indiv_out = _amount("OOP individual out of network")
    oop_indiv_out_remaining = _amount("OOP individual out of network remaining")
    oop_family_in = _amount("OOP family in network")
    oop_family_in_remaining = _amount("OOP family in network remaining")
    oop_family_out = _amount("OOP family out of network")
    oop_family_out_remaining = _amount("OOP family out of network remaining")
    ded_indiv_in = _amount("deductible individual in network")
    ded_indiv_in_remaining = _amount("deductible individual in network remaining")
    ded_indiv_out = _amount("deductible individual out of network")
    ded_indiv_out_remaining = _amount("deductible individual out of network remaining")
    ded_family_in = _amount("deductible family in network")
    ded_family_in_remaining = _amount("deductible family in network remaining")
    ded_family_out = _amount("deductible family out of network")
    ded_family_out_remaining = _amount("deductible family out of network remaining")
    coins_in_network = _amount("co-insurance % in network")
    coins_out_of_network = _amount("co-insurance % out of network")
    copay_office = _amount("co-pay $ office")
    copay_specialist = _amount("co-pay $ specialist")

    # Primary care provider
    primary_care_facility = models.CharField(max_length=200, blank=True)
    pcp_first_name = models.CharField(max_length=100, blank=True)
    pcp_last_name = models.CharField(max_length=100, blank=True)
    pcp_npi = models.CharField("PCP NPI", max_length=10, blank=True)
    pcp_address = models.CharField(max_length=300, blank=True)
    pcp_phone = models.CharField(max_length=50, blank=True)
    pcp_fax = models.CharField(max_length=50, blank=True)

    # The patient's and subscriber's own addresses are PHI: encrypted at rest.
    patient_address = EncryptedTextField(blank=True, default="")
    subscriber_address = EncryptedTextField(blank=True, default="")

    integrex_id = models.CharField(max_length=100, blank=True)
    request_status_code = models.CharField(max_length=10, blank=True)
    request_status = models.CharField(max_length=200, blank=True)
    response_date = models.DateField(null=True, blank=True)

    raw = EncryptedJSONField(help_text="The coverage exactly as Integrex sent it.")

    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = CoverageQuerySet.as_manager()

    class Meta:
        ordering = ["ticket", "position"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "position"], name="uniq_coverage_position")
        ]
        # The worklist's payer filter.
        indexes = [models.Index(fields=["payer_name1"], name="coverage_payer")]

    def __str__(self) -> str:
        return f"{self.payer_name1 or self.payer_id1 or 'coverage'} {self.member_id}".strip()

    @property
    def payer_display(self) -> str:
        return self.payer_name1 or self.payer_name2 or self.payer_id1 or self.payer_id2

    @property
    def payer_id(self) -> str:
        return self.payer_id1 or self.payer_id2

    @property
    def pcp_name(self) -> str:
        return f"{self.pcp_first_name} {self.pcp_last_name}".strip()

    @property
    def is_active(self) -> bool:
        return self.coverage_status_code == "1" or "active" in self.coverage_status_desc.lower()

    def limits(self) -> list[dict[str, Any]]:
        """Deductible and out-of-pocket limits with what remains, for the bars on the card."""
        rows = []
        for kind, kind_label in (("ded", "Deductible"), ("oop", "Out of pocket")):
            for who, who_label in (("indiv", "individual"), ("family", "family")):
                for net, net_label in (("in", "in network"), ("out", "out of network")):
                    limit = getattr(self, f"{kind}_{who}_{net}")
                    remaining = getattr(self, f"{kind}_{who}_{net}_remaining")
                    if limit is None and remaining is None:
                        continue
                    rows.append({"label": f"{kind_label}, {who_label}, {net_label}",
                                 "limit": limit, "remaining": remaining,
                                 "percent": _percent(remaining, limit)})
        return rows


def _percent(remaining: Decimal | None, limit: Decimal | None) -> int | None:
    if remaining is None or not limit:
        return None
    return max(0, min(100, round(remaining / limit * 100)))
