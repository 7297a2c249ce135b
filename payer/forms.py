"""The claim form: the guide's fields under the guide's names ("Required Claim Data
Structure"), with real ICD-10-CM / CPT / HCPCS checks instead of the guide's simplified ones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from payer.models import new_reference
from revcycle import codes, medcodes
from revcycle.access import connections_for, facilities_for
from revcycle.models import Encounter
from revcycle.validators import validate_not_future

REQUIRED = ("patient_name", "insurance_id", "diagnosis_code", "amount")
RECOMMENDED = (
    "procedure_code",
    "diagnosis_description",
    "procedure_description",
    "date_of_service",
    "priority",
)
OPTIONAL = (
    "patient_id",
    "notes",
    "provider_id",
    "provider_name",
    "referring_physician",
    "prior_authorization",
    "patient_dob",
    "patient_gender",
    "emergency",
)
GUIDE_FIELDS = REQUIRED + RECOMMENDED + OPTIONAL


def procedure_code_set(code: str) -> str:
    return "hcpcs" if medcodes.is_hcpcs(code) else "cpt"


class ClaimFieldsForm(forms.Form):
    """The guide's fields with our checks: one CSV row of a bulk upload (payer/batch.py)."""

    patient_name = forms.CharField(max_length=200)
    insurance_id = forms.CharField(
        max_length=50, help_text="The patient's member id with this payer."
    )
    diagnosis_code = forms.CharField(max_length=10, help_text=medcodes.ICD10CM_HELP)
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    procedure_code = forms.CharField(
        max_length=10, required=False, help_text=medcodes.PROCEDURE_HELP
    )
    diagnosis_description = forms.CharField(
        max_length=200, required=False, help_text="Blank: our description of the code."
    )
    procedure_description = forms.CharField(
        max_length=200, required=False, help_text="Blank: our description of the code."
    )
    date_of_service = forms.DateField(
        required=False,
        validators=[validate_not_future],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    priority = forms.ChoiceField(
        required=False,
        initial="medium",
        choices=[
            ("", "—"),
            ("low", "low"),
            ("medium", "medium"),
            ("high", "high"),
            ("urgent", "urgent"),
        ],
    )

    patient_id = forms.CharField(
        max_length=50, required=False, help_text="Our patient account number."
    )
    notes = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    provider_id = forms.CharField(max_length=50, required=False)
    provider_name = forms.CharField(max_length=200, required=False)
    referring_physician = forms.CharField(max_length=200, required=False)
    prior_authorization = forms.CharField(max_length=50, required=False)
    patient_dob = forms.DateField(
        required=False,
        validators=[validate_not_future],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    patient_gender = forms.ChoiceField(
        required=False, choices=[("", "—"), ("M", "M"), ("F", "F"), ("Other", "Other")]
    )
    emergency = forms.BooleanField(required=False)

    def clean_diagnosis_code(self) -> str:
        code = medcodes.normalise_icd10(self.cleaned_data["diagnosis_code"])
        medcodes.validate_billable_icd10cm(code)
        return code

    def clean_procedure_code(self) -> str:
        code = "".join(self.cleaned_data["procedure_code"].split()).upper()
        medcodes.validate_procedure_code(code)
        return code

    def body(self) -> dict[str, Any]:
        return claim_body(self.cleaned_data)


class PayerClaimForm(ClaimFieldsForm):
    """The claim page's form: the guide's fields, where to send them, and our reference."""

    reference = forms.CharField(widget=forms.HiddenInput, max_length=40)
    connection = forms.ModelChoiceField(queryset=None, label="Payer connection")
    facility = forms.ModelChoiceField(queryset=None)
    submit_anyway = forms.BooleanField(
        required=False, label="Send although an identical claim exists"
    )
    field_order = ["reference", "connection", "facility"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["connection"].queryset = connections_for(user, "payer")
        self.fields["facility"].queryset = facilities_for(user)
        self.fields["reference"].initial = self.initial.get("reference") or new_reference()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        facility, connection = data.get("facility"), data.get("connection")
        if facility and connection and not connection.facilities.filter(pk=facility.pk).exists():
            self.add_error("connection", "This payer connection does not serve that facility.")
        return data


def claim_body(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON sent, under exactly the guide's names; blank optional fields left out."""
    body: dict[str, Any] = {}
    for name in GUIDE_FIELDS:
        value = data.get(name)
        if name == "emergency":
            body[name] = bool(value)
        elif name == "amount":
            body[name] = f"{value:.2f}"
        elif value not in (None, ""):
            body[name] = value.isoformat() if hasattr(value, "isoformat") else value
    on = data.get("date_of_service")
    if not body.get("diagnosis_description"):
        text = codes.describe("icd10cm", body["diagnosis_code"], on)
        if text:
            body["diagnosis_description"] = text
    if body.get("procedure_code") and not body.get("procedure_description"):
        text = codes.describe(
            procedure_code_set(body["procedure_code"]), body["procedure_code"], on
        )
        if text:
            body["procedure_description"] = text
    return body


def initial_from(encounter: Encounter | None, connection: Any = None) -> dict[str, Any]:
    """Prefill the form from an encounter (the account the biller chose)."""
    initial: dict[str, Any] = {"priority": "medium", "reference": new_reference()}
    if connection is not None:
        initial.update(connection=connection, provider_id=connection.provider_id)
    if encounter is None:
        return initial
    initial.update(
        facility=encounter.facility,
        patient_name=encounter.patient_name,
        insurance_id=encounter.subscriber_id,
        amount=encounter.total_charges,
        date_of_service=encounter.service_date_from,
        patient_id=encounter.account_number,
        provider_name=encounter.provider_name or encounter.facility.name,
        patient_dob=encounter.patient_dob,
        patient_gender=encounter.patient_gender,
    )
    return initial


def initial_from_claim(claim: Any) -> dict[str, Any]:
    """"Correct and resend": the refused claim's fields, under a new reference (so it is a
    new claim, and the duplicate check does not stop it: refused claims are not duplicates)."""
    sent = dict((claim.ticket.request if claim.ticket else None) or {})
    initial = {name: sent[name] for name in GUIDE_FIELDS if name in sent}
    initial.update(reference=new_reference(), connection=claim.connection,
                   facility=claim.facility)
    return initial
