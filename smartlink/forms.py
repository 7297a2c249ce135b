from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from revcycle import codes
from revcycle.medcodes import ICD10CM_HELP, is_icd10cm
from smartlink.models import SmartBenefit

FILE_NUMBER = r"^[A-Za-z0-9/_.-]{1,50}$"


class LookupForm(forms.Form):
    patient_number = forms.RegexField(
        regex=FILE_NUMBER, label="Patient file number",
        error_messages={"invalid": "Letters, digits, dashes, dots or slashes only."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. 23025764", "autofocus": True}))

    def __init__(self, *args: Any, facilities: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if facilities is not None and len(facilities) > 1:
            self.fields["facility"] = forms.ModelChoiceField(queryset=facilities, empty_label=None)


class ActivateForm(forms.Form):
    visit_number = forms.RegexField(
        regex=FILE_NUMBER, label="Hospital visit (encounter) number",
        error_messages={"invalid": "Letters, digits, dashes, dots or slashes only."})


def name_row_inputs(form: forms.Form, noun: str) -> None:
    """Give each input of a formset row its own accessible name ("Line 2 Quantity"): the
    table shows its column headings once, and a screen reader reads no label otherwise."""
    row = (form.prefix or "").rsplit("-", 1)[-1]
    if not row.isdigit():
        return  # a form on its own shows its labels
    for name, field in form.fields.items():
        label = field.label or name.replace("_", " ").capitalize()
        field.widget.attrs.setdefault("aria-label", f"{noun} {int(row) + 1} {label}")


class LineForm(forms.Form):
    code = forms.CharField(max_length=30)
    description = forms.CharField(max_length=200)
    quantity = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=2)
    unit_price = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=2,
                                    label="Unit price")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name_row_inputs(self, "Line")

    def as_line(self) -> dict[str, Any]:
        d = self.cleaned_data
        amount = (d["quantity"] * d["unit_price"]).quantize(Decimal("0.01"))
        return {"code": d["code"].strip(), "description": d["description"].strip(),
                "quantity": str(d["quantity"].normalize()), "unitPrice": str(d["unit_price"]),
                "amount": str(amount)}


class DiagnosisForm(forms.Form):
    code = forms.CharField(max_length=10, label="ICD-10 code", help_text=ICD10CM_HELP)
    description = forms.CharField(max_length=200, required=False,
                                  help_text="Blank: the code's description on file.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name_row_inputs(self, "Diagnosis")

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).upper()
        if not is_icd10cm(code):
            raise forms.ValidationError(f"{code} is not an ICD-10 code. {ICD10CM_HELP}")
        return codes.normalise_code("icd10cm", code)  # J069 is sent as J06.9

    def as_diagnosis(self) -> dict[str, str]:
        code = self.cleaned_data["code"]
        description = self.cleaned_data.get("description", "").strip()
        if not description:
            description = codes.describe("icd10cm", code) or ""
        return {"code": code, "description": description}


LineFormSet = forms.formset_factory(LineForm, extra=4)
DiagnosisFormSet = forms.formset_factory(DiagnosisForm, extra=2)


def benefit_label(benefit: SmartBenefit) -> str:
    if benefit.balance is None:
        return benefit.name
    return f"{benefit.name} (balance KES {benefit.balance:,.2f})"


def new_invoice_number() -> str:
    return f"INV{timezone.localdate():%y%m%d}{secrets.token_hex(3).upper()}"


class InvoiceForm(forms.Form):
    benefit = forms.ModelChoiceField(queryset=SmartBenefit.objects.none(), empty_label=None,
                                     label="Benefit for this visit")
    invoice_number = forms.RegexField(regex=r"^[A-Za-z0-9/_.-]{1,100}$", label="Invoice number")
    copay_amount = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=2,
                                      required=False, label="Co-pay collected from the patient")
    accept_over_balance = forms.BooleanField(
        required=False, label="Post it although the total exceeds the benefit balance")
    override_reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for a second invoice on this visit and benefit (managers only)")

    def __init__(self, *args: Any, member: Any = None, smart_copay: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("invoice_number", new_invoice_number())
        super().__init__(*args, **kwargs)
        if member is not None:
            self.fields["benefit"].queryset = member.benefits.all()
            self.fields["benefit"].label_from_instance = benefit_label
        if smart_copay:
            del self.fields["copay_amount"]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000,
                             label="Why it is not billed, or what was done")


class LateDiagnosisForm(DiagnosisForm):
    pass
