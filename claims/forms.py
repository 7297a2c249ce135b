"""The claim status request: one form for the single lookup and for each CSV row.

Field names are Integrex's request names (docs/integrex.md, "Claim status"), so a row, a
form and the body sent read the same."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from revcycle.models import Encounter, Facility
from revcycle.validators import DayField, parse_amount, validate_not_future, validate_npi


def _date_field(label: str, *, required: bool = False, past: bool = True) -> forms.DateField:
    return DayField(
        label=label, required=required,
        validators=[validate_not_future] if past else [],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _text(label: str, *, required: bool = False, max_length: int = 100,
          help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=max_length,
                           help_text=help_text)


class ClaimStatusForm(forms.Form):
    patientFirstName = _text("Patient first name", required=True)
    patientLastName = _text("Patient last name", required=True)
    patientDob = _date_field("Patient date of birth", required=True)
    subscriberId = _text("Member id (subscriber id)", required=True, max_length=50)
    subscriberFirstName = _text("Subscriber first name")
    subscriberLastName = _text("Subscriber last name")
    subscriberDob = _date_field("Subscriber date of birth")
    billingProviderNpi = _text("Billing provider NPI", required=True, max_length=10,
                               help_text="The billing provider or group NPI on the claim.")
    billingProviderName = _text("Billing provider name", max_length=200)
    taxId = _text("Tax id", max_length=11, help_text="9 digits, as on the claim.")
    admitDate = _date_field("Date of service", required=True)
    totalCharges = _text("Total charges", max_length=20, help_text="The billed amount, e.g. "
                                                                   "1250.00.")
    payerId = _text("Payer id", max_length=50)
    payerName = _text("Payer name", max_length=200)
    trackingId1 = _text("Account number", max_length=50,
                        help_text="Your internal account number (tracking id 1).")
    trackingId2 = _text("Second account number", max_length=50)

    def clean_billingProviderNpi(self) -> str:
        value = re.sub(r"\s", "", self.cleaned_data["billingProviderNpi"])
        validate_npi(value)
        return value

    def clean_taxId(self) -> str:
        value = self.cleaned_data["taxId"].replace("-", "").strip()
        if value and not re.fullmatch(r"\d{9}", value):
            raise ValidationError("A tax id has 9 digits, as 999887777 or 99-9887777.")
        return value

    def clean_totalCharges(self) -> str:
        value = self.cleaned_data["totalCharges"].strip()
        if not value:
            return ""
        amount = parse_amount(value)
        if amount is None or amount < 0:
            raise ValidationError(f"{value!r} is not an amount: write it as 1250.00.")
        return f"{amount:.2f}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("payerId") and not cleaned.get("payerName"):
            raise ValidationError("Give the payer id or the payer name (or both).")
        dob, dos = cleaned.get("patientDob"), cleaned.get("admitDate")
        if dob and dos and dos < dob:
            self.add_error("admitDate", "The date of service is before the date of birth.")
        return cleaned


DATE_NAMES = ("patientDob", "subscriberDob", "admitDate")
REQUEST_NAMES = list(ClaimStatusForm.base_fields)


def build_request(cleaned: dict[str, Any], facility: Facility) -> dict[str, Any]:
    """The POST body, every field under its documented name (blank ones as "")."""
    body: dict[str, Any] = {}
    for name in REQUEST_NAMES:
        value = cleaned.get(name)
        if isinstance(value, date):
            value = value.isoformat()
        body[name] = "" if value is None else str(value)
    if not body["billingProviderName"]:
        body["billingProviderName"] = facility.name
    if not body["taxId"]:
        body["taxId"] = facility.tax_id
    return body


def summary(cleaned: dict[str, Any]) -> tuple[str, str, str]:
    patient = f"{cleaned.get('patientFirstName', '')} {cleaned.get('patientLastName', '')}"
    return (cleaned.get("trackingId1") or "", patient.strip(),
            cleaned.get("payerName") or cleaned.get("payerId") or "")


def facility_defaults(facility: Facility) -> dict[str, str]:
    """The billing provider, from the user's facility, for blank fields."""
    return {"billingProviderNpi": facility.npi, "billingProviderName": facility.name,
            "taxId": facility.tax_id}


def initial_from_encounter(encounter: Encounter) -> dict[str, Any]:
    """Prefill the lookup from an account (Encounter)."""
    return {
        "patientFirstName": encounter.patient_first_name,
        "patientLastName": encounter.patient_last_name,
        "patientDob": encounter.patient_dob,
        "subscriberId": encounter.subscriber_id,
        "subscriberFirstName": encounter.subscriber_first_name,
        "subscriberLastName": encounter.subscriber_last_name,
        "subscriberDob": encounter.subscriber_dob,
        "billingProviderNpi": encounter.provider_npi,
        "billingProviderName": encounter.provider_name,
        "taxId": encounter.tax_id,
        "admitDate": encounter.service_date_from,
        "totalCharges": f"{encounter.total_charges:.2f}" if encounter.total_charges else "",
        "payerId": encounter.payer_id,
        "payerName": encounter.payer_name,
        "trackingId1": encounter.account_number,
        "trackingId2": encounter.account_number2,
    }
