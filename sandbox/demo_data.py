"""Demo patients that agree across the three stand-ins.

Each patient is a plain dict; the lead's `demo_setup` command turns them into Encounters.
Keys (all strings unless noted):

    account_number        Integrex trackingId1 / internalAccountNumber1; the last digit
                          picks the claim-status and discovery scenario (scenarios.py)
    account_number2       trackingId2 / internalAccountNumber2
    first_name, last_name, dob (yyyy-mm-dd), gender ("F"/"M"), ssn (fake, 123-45-67xx),
    address
    member_id             subscriber / member id (the patient is the subscriber)
    payer_id, payer_name  Integrex payer
    provider_npi, provider_name, tax_id   the billing facility (NPI check digit is valid)
    date_of_service (yyyy-mm-dd), total_charges ("1250.00")
    smart_patient_number  Smart patient file number; smart_member_number its member number
    payer_insurance_id    the HCMS payer's insurance id
    diagnosis_code, diagnosis_description (ICD-10), procedure_code,
    procedure_description (CPT)
    payer_outcome         what the HCMS stand-in does with payer_claim(patient):
                          approved, review_then_approved, review_then_rejected, not_found

`claim_status_request`, `discovery_request` and `payer_claim` build each service's request
for a patient; `seed_sandbox()` opens a PENDING Smart session per patient (idempotent).
"""

from __future__ import annotations

from typing import Any

PROVIDER = {"provider_npi": "1083052872", "provider_name": "St. Mary's Hospital",
            "tax_id": "999887777"}

_ROWS = [
    # first, last, dob, gender, payer id, payer name, dos, charges, insurance id,
    # diagnosis, procedure, payer outcome
    ("JANE", "DOE", "1970-01-02", "F", "AETNA", "AETNA", "2026-10-01", "1250.00",
     "BC-789-456", ("J20.9", "Acute bronchitis, unspecified"),
     ("99213", "Office visit, established patient, low complexity"), "approved"),
    ("JOHN", "SMITH", "1985-06-15", "M", "87726", "UNITEDHEALTHCARE", "2026-10-02", "320.00",
     "BC-123-456", ("I10", "Essential hypertension"),
     ("99214", "Office visit, established patient, moderate complexity"), "approved"),
    ("MARIA", "GARCIA", "1962-03-28", "F", "62308", "CIGNA", "2026-10-03", "2875.50",
     "BC-234-567", ("E11.9", "Type 2 diabetes mellitus without complications"),
     ("80053", "Comprehensive metabolic panel"), "approved"),
    ("ROBERT", "JOHNSON", "1958-11-09", "M", "AETNA", "AETNA", "2026-10-03", "5000.00",
     "BC-345-678", ("Z51.12", "Encounter for antineoplastic immunotherapy"),
     ("15776", "Punch graft for hair transplant; more than 15 punch grafts"),
     "review_then_approved"),
    ("LINDA", "WILLIAMS", "1990-07-21", "F", "87726", "UNITEDHEALTHCARE", "2026-10-04",
     "740.00", "BC-456-789", ("J45.909", "Unspecified asthma, uncomplicated"),
     ("94640", "Pressurized or nonpressurized inhalation treatment"), "approved"),
    ("MICHAEL", "BROWN", "1978-02-14", "M", "00590", "BLUE CROSS BLUE SHIELD", "2026-10-05",
     "1890.00", "BC-999-999", ("M54.50", "Low back pain, unspecified"),
     ("72100", "Radiologic examination, spine, lumbosacral; 2 or 3 views"), "not_found"),
    ("PATRICIA", "JONES", "1949-12-01", "F", "MCRA", "MEDICARE PART A", "2026-10-06",
     "15420.00", "BC-567-890", ("I25.10", "Atherosclerotic heart disease of native coronary "
                                          "artery without angina pectoris"),
     ("93000", "Electrocardiogram, routine ECG with interpretation and report"), "approved"),
    ("DAVID", "MILLER", "1983-05-30", "M", "62308", "CIGNA", "2026-10-07", "410.00",
     "BC-678-901", ("N39.0", "Urinary tract infection, site not specified"),
     ("81001", "Urinalysis, automated, with microscopy"), "approved"),
    ("BARBARA", "DAVIS", "1972-09-17", "F", "AETNA", "AETNA", "2026-10-08", "12500.00",
     "BC-789-012", ("Z51.12", "Encounter for antineoplastic immunotherapy"),
     ("15777", "Implantation of biologic implant for soft tissue reinforcement"),
     "review_then_rejected"),
    ("JAMES", "WILSON", "1966-04-04", "M", "87726", "UNITEDHEALTHCARE", "2026-10-09",
     "980.00", "BC-890-123", ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
     ("43235", "Esophagogastroduodenoscopy, diagnostic"), "approved"),
    ("SUSAN", "MOORE", "1995-08-12", "F", "00590", "BLUE CROSS BLUE SHIELD", "2026-10-10",
     "265.00", "BC-901-234", ("R51.9", "Headache, unspecified"),
     ("99213", "Office visit, established patient, low complexity"), "approved"),
    ("CHARLES", "TAYLOR", "1980-10-25", "M", "AETNA", "AETNA", "2026-10-11", "3320.00",
     "BC-012-345", ("S72.001A", "Fracture of unspecified part of neck of right femur, "
                                "initial encounter"),
     ("27236", "Open treatment of femoral fracture, proximal end, neck"), "approved"),
]

STREETS = ["OAK", "ELM", "PINE", "MAPLE", "CEDAR", "BIRCH"]


def _patient(i: int, row: tuple) -> dict[str, Any]:
    (first, last, dob, gender, payer_id, payer_name, dos, charges, insurance_id,
     (dx, dx_desc), (cpt, cpt_desc), outcome) = row
    return {
        "account_number": f"ACC{1000 + i}",
        "account_number2": f"V{2026100 + i}",
        "first_name": first, "last_name": last, "dob": dob, "gender": gender,
        "ssn": f"123-45-67{i:02d}",
        "address": f"{100 + 17 * i} {STREETS[i % len(STREETS)]} ST, SACRAMENTO, CA 95816",
        "member_id": f"W{880000100 + i}",
        "payer_id": payer_id, "payer_name": payer_name,
        **PROVIDER,
        "date_of_service": dos, "total_charges": charges,
        "smart_patient_number": str(23025764 + i),
        "smart_member_number": f"SMT{502 + i:06d}",
        "payer_insurance_id": insurance_id,
        "diagnosis_code": dx, "diagnosis_description": dx_desc,
        "procedure_code": cpt, "procedure_description": cpt_desc,
        "payer_outcome": outcome,
    }


DEMO_PATIENTS: list[dict[str, Any]] = [_patient(i, row) for i, row in enumerate(_ROWS)]


def by_account(account_number: str) -> dict[str, Any] | None:
    return next((p for p in DEMO_PATIENTS if p["account_number"] == account_number), None)


def payer_insurance_id(member_id: str) -> str:
    """The HCMS insurance id of the demo patient whose subscriber id this is (an account's
    form is prefilled with the encounter's subscriber id), else the id unchanged."""
    patient = next((p for p in DEMO_PATIENTS if p["member_id"] == member_id), None)
    return patient["payer_insurance_id"] if patient else member_id


def by_smart_patient_number(patient_number: str) -> dict[str, Any] | None:
    return next((p for p in DEMO_PATIENTS if p["smart_patient_number"] == patient_number), None)


def claim_status_request(p: dict[str, Any]) -> dict[str, str]:
    """The Integrex claim-info POST body for a demo patient."""
    return {
        "patientDob": p["dob"], "patientFirstName": p["first_name"],
        "patientLastName": p["last_name"], "subscriberId": p["member_id"],
        "subscriberFirstName": p["first_name"], "subscriberLastName": p["last_name"],
        "subscriberDob": p["dob"], "billingProviderNpi": p["provider_npi"],
        "billingProviderName": p["provider_name"], "taxId": p["tax_id"],
        "admitDate": p["date_of_service"], "totalCharges": p["total_charges"],
        "payerId": p["payer_id"], "payerName": p["payer_name"],
        "trackingId1": p["account_number"], "trackingId2": p["account_number2"],
    }


def discovery_request(p: dict[str, Any]) -> dict[str, str]:
    """The Integrex insurance-discovery POST body for a demo patient."""
    return {
        "patientDob": p["dob"], "patientFirstName": p["first_name"],
        "patientLastName": p["last_name"], "patientSsn": p["ssn"], "patientGender": p["gender"],
        "billingProviderNpi": p["provider_npi"], "beginDos": p["date_of_service"],
        "endDos": p["date_of_service"], "serviceType": "30", "payerName": "CA",
        "internalAccountNumber1": p["account_number"],
        "internalAccountNumber2": p["account_number2"],
    }


def payer_claim(p: dict[str, Any], provider_id: str = "PROV-001") -> dict[str, Any]:
    """The HCMS payer POST /claims/ body for a demo patient."""
    return {
        "patient_name": f"{p['first_name'].title()} {p['last_name'].title()}",
        "insurance_id": p["payer_insurance_id"], "diagnosis_code": p["diagnosis_code"],
        "amount": p["total_charges"], "procedure_code": p["procedure_code"],
        "diagnosis_description": p["diagnosis_description"],
        "procedure_description": p["procedure_description"],
        "date_of_service": p["date_of_service"], "priority": "medium",
        "patient_id": p["account_number"], "provider_id": provider_id,
        "provider_name": p["provider_name"], "patient_dob": p["dob"],
        "patient_gender": p["gender"], "emergency": False,
    }


def seed_sandbox() -> list[Any]:
    """Open a PENDING Smart session for every demo patient that has no live one.

    Idempotent: running it twice opens nothing the second time. Returns the sessions.
    """
    from sandbox.smart import live_pending_session, open_session

    sessions = []
    for p in DEMO_PATIENTS:
        number = p["smart_patient_number"]
        sessions.append(live_pending_session(number) or open_session(number))
    return sessions
