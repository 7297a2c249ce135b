"""CSV columns shared by the two batch formats that talk to Integrex."""

from __future__ import annotations

from revcycle.csvio import Column

# Integrex's claim-info and insurance-discovery requests share these fields; their CSV
# spellings are written once for both batch formats.
COMMON_COLUMNS: dict[str, Column] = {c.name: c for c in [
    Column("patientFirstName", "patientFirstName",
           ("Patient First Name", "First Name", "FirstName", "First"), required=True),
    Column("patientLastName", "patientLastName",
           ("Patient Last Name", "Last Name", "LastName", "Surname", "Last"), required=True),
    Column("patientDob", "patientDob",
           ("Patient DOB", "patient_dob", "DOB", "Date of Birth", "Birth Date", "Birthdate",
            "Patient Date of Birth"), required=True),
    Column("subscriberFirstName", "subscriberFirstName", ("Subscriber First Name",)),
    Column("subscriberLastName", "subscriberLastName", ("Subscriber Last Name",)),
    Column("subscriberDob", "subscriberDob",
           ("Subscriber DOB", "subscriber_dob", "Subscriber Date of Birth")),
    Column("billingProviderNpi", "billingProviderNpi",
           ("NPI", "Billing NPI", "Provider NPI", "Billing Provider NPI", "billing_npi")),
    Column("payerId", "payerId", ("Payer ID", "payer_id", "payerid")),
]}
