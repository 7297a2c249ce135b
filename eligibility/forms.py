"""The discovery request form. Fields carry the specification's names, so the cleaned
data is the body sent (and a CSV row with those headers validates through the same form)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from revcycle.access import facilities_for
from revcycle.validators import DayField, normalise_ssn, validate_not_future, validate_npi

GENDERS = [("", "—"), ("F", "F (female)"), ("M", "M (male)")]
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class SsnInput(forms.TextInput):
    """A text box that never puts an SSN back on a page: a form redisplayed after an error
    shows it empty (the view says to re-enter it)."""

    def format_value(self, value: Any) -> None:
        return None


def _ssn_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=11,
        widget=SsnInput(attrs={"autocomplete": "off", "placeholder": "###-##-####",
                                      "inputmode": "numeric"}),
    )


class DiscoveryRequestForm(forms.Form):
    """Every request field of [POST] Insurance Discovery Request."""

    patientFirstName = forms.CharField(label="Patient first name", max_length=100)
    patientLastName = forms.CharField(label="Patient last name", max_length=100)
    patientDob = DayField(label="Patient date of birth", widget=DATE_INPUT,
                                 validators=[validate_not_future])
    patientGender = forms.ChoiceField(label="Patient gender", choices=GENDERS, required=False)
    patientSsn = _ssn_field("Patient SSN")
    internalAccountNumber1 = forms.CharField(label="Account number", max_length=50,
                                             required=False)
    internalAccountNumber2 = forms.CharField(label="Second account number", max_length=50,
                                             required=False)
    billingProviderNpi = forms.CharField(label="Billing provider NPI", max_length=10,
                                         validators=[validate_npi])
    beginDos = DayField(label="Date of service (or admission)", widget=DATE_INPUT)
    endDos = DayField(label="Last date of service (or discharge)", widget=DATE_INPUT,
                             required=False)
    serviceType = forms.CharField(label="Service type", max_length=2, initial="30",
                                  required=False,
                                  help_text="2-digit X12 service type; 30 is health benefit "
                                            "plan coverage.")
    payerName = forms.CharField(label="Region to search", max_length=200, required=False,
                                help_text="Sent as payerName: the region Integrex searches in.")
    payerId = forms.CharField(label="Payer id", max_length=50, required=False)
    employerName = forms.CharField(label="Employer", max_length=200, required=False)

    subscriberFirstName = forms.CharField(label="Subscriber first name", max_length=100,
                                          required=False)
    subscriberLastName = forms.CharField(label="Subscriber last name", max_length=100,
                                         required=False)
    subscriberDob = DayField(label="Subscriber date of birth", widget=DATE_INPUT,
                                    required=False, validators=[validate_not_future])
    subscriberGender = forms.ChoiceField(label="Subscriber gender", choices=GENDERS,
                                         required=False)
    subscriberSsn = _ssn_field("Subscriber SSN")

    PATIENT = ["patientFirstName", "patientLastName", "patientDob", "patientGender",
               "patientSsn", "internalAccountNumber1", "internalAccountNumber2"]
    SERVICE = ["billingProviderNpi", "beginDos", "endDos", "serviceType", "payerName",
               "payerId", "employerName"]
    SUBSCRIBER = ["sub.MemberID", "subscriberFirstName", "subscriberLastName",
                  "subscriberDob", "subscriberGender", "subscriberSsn"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "sub.MemberID" is not a Python name: add it by key.
        self.fields["sub.MemberID"] = forms.CharField(
            label="Member id", max_length=50, required=False,
            help_text="Subscriber or member policy id, if the patient has a card.")
        self.order_fields(self.PATIENT + self.SERVICE + self.SUBSCRIBER)

    def clean_patientSsn(self) -> str:
        return normalise_ssn(self.cleaned_data.get("patientSsn", ""))

    def clean_subscriberSsn(self) -> str:
        return normalise_ssn(self.cleaned_data.get("subscriberSsn", ""))

    def clean_billingProviderNpi(self) -> str:
        return self.cleaned_data["billingProviderNpi"].strip()

    def clean_patientGender(self) -> str:
        return self.cleaned_data.get("patientGender", "").upper()

    def clean_serviceType(self) -> str:
        value = (self.cleaned_data.get("serviceType") or "30").strip()
        if not re.fullmatch(r"[0-9A-Z]{1,2}", value.upper()):
            raise ValidationError("A service type is a 2-character X12 code, such as 30.")
        return value.upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        begin, end = data.get("beginDos"), data.get("endDos")
        if begin and end and end < begin:
            self.add_error("endDos", "The last date of service is before the first.")
        if begin and begin > date.today():
            self.add_error("beginDos", "Discovery looks for coverage on past or current "
                                       "dates of service; this one is in the future.")
        return data

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in (
            ("Patient", self.PATIENT), ("Service and search", self.SERVICE),
            ("Subscriber (if not the patient)", self.SUBSCRIBER))]


class LookupForm(DiscoveryRequestForm):
    """The single lookup: the request plus the facility searching, and the account it was
    prefilled from (whose SSNs on file are used when the SSN boxes are left blank)."""

    facility = forms.ModelChoiceField(queryset=None, empty_label=None)
    encounter = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facilities_for(user)
        self.order_fields(["facility", "encounter", *self.PATIENT, *self.SERVICE,
                           *self.SUBSCRIBER])
