"""Deterministic Integrex answers: the same request always gets the same result, so a
test (or a demo script) can predict it from the request alone.

Claim status (`claim_scenario`), by the last digit of trackingId1, else a hash:
    0-3 paid, 4-5 denied, 6 pending, 7 not_found, 8 rejected, 9 adjusted.
Insurance discovery (`discovery_scenario`), by the last digit of internalAccountNumber1,
else a hash of names + date of birth:
    0-5 one coverage, 6-7 two coverages, 8 none (empty list), 9 one with garbled keys.
Only `responseDate` is not derived from the request: it is the ticket's creation date.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CLAIM_SCENARIOS = {
    **dict.fromkeys("0123", "paid"), **dict.fromkeys("45", "denied"), "6": "pending",
    "7": "not_found", "8": "rejected", "9": "adjusted",
}
DISCOVERY_SCENARIOS = {
    **dict.fromkeys("012345", "one"), **dict.fromkeys("67", "two"), "8": "none",
    "9": "garbled",
}


@functools.lru_cache(maxsize=4096)
def norm_key(key: str) -> str:
    """Keys are compared with case and punctuation removed (READING-NOTES.md). Cached: an
    answer reads a dozen fields, each normalising every key of the request again."""
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def normalized(request_json: dict[str, Any]) -> dict[str, Any]:
    return {norm_key(k): v for k, v in request_json.items()}


def field(request_json: dict[str, Any], name: str, default: str = "") -> str:
    value = normalized(request_json).get(norm_key(name))
    return default if value is None else str(value).strip()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _request_digest(request_json: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: str(v).strip().upper() for k, v in normalized(request_json).items()}, sort_keys=True
    )
    return _digest(canonical)


def _rng(request_json: dict[str, Any], salt: str) -> random.Random:
    return random.Random(_request_digest(request_json) + salt)


def _digit_or_hash(value: str, *fallback: str) -> str:
    if value and value[-1].isdigit():
        return value[-1]
    return str(int(_digest(*fallback), 16) % 10)


def claim_scenario(request_json: dict[str, Any]) -> str:
    """paid, denied, pending, not_found, rejected or adjusted (see the module docstring)."""
    digit = _digit_or_hash(
        field(request_json, "trackingId1"),
        *(field(request_json, n).upper() for n in
          ("patientFirstName", "patientLastName", "patientDob", "subscriberId", "admitDate")),
    )
    return CLAIM_SCENARIOS[digit]


def discovery_scenario(request_json: dict[str, Any]) -> str:
    """one, two, none or garbled (see the module docstring)."""
    digit = _digit_or_hash(
        field(request_json, "internalAccountNumber1"),
        *(field(request_json, n).upper() for n in
          ("patientFirstName", "patientLastName", "patientDob")),
    )
    return DISCOVERY_SCENARIOS[digit]


def money(value: Decimal | float | int) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _parse_date(text: str, fallback: date) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return fallback


def _integrex_id(request_json: dict[str, Any], salt: str) -> str:
    return "IX" + _digest(_request_digest(request_json), salt)[:12].upper()


# X12 277 claim status category (507) and status (508) codes used by the scenarios.
CATEGORIES = {
    "F1": "Finalized/Payment-The claim/line has been paid.",
    "F2": "Finalized/Denial-The claim/line has been denied.",
    "F3": "Finalized/Revised - Adjudication information has been changed",
    "P1": "Pending/In Process-The claim or encounter is in the adjudication system.",
    "A4": "Acknowledgement/Not Found-The claim/encounter can not be found in the "
          "adjudication system.",
    "A7": "Acknowledgement/Rejected for Invalid Information-The claim/encounter has invalid "
          "information as specified in the Status details and has been rejected.",
}
STATUSES = {
    "1": "For more detailed information, see remittance advice.",
    "20": "Accepted for processing.",
    "21": "Missing or invalid information.",
    "35": "Claim/encounter not found.",
    "65": "Claim/line has been paid.",
    "101": "Claim was processed as adjustment to previous claim.",
    "562": "Entity's National Provider Identifier (NPI).",
}
DENIALS = [  # (payer remark, RARC, CARC) with their descriptions
    (("DN50", "NOT MEDICALLY NECESSARY PER PLAN POLICY"),
     ("N290", "Missing/incomplete/invalid rendering provider primary identifier."),
     ("50", "These are non-covered services because this is not deemed a 'medical "
            "necessity' by the payer.")),
    (("DN96", "SERVICE NOT A COVERED BENEFIT"),
     ("N130", "Consult plan benefit documents/guidelines for information about "
              "restrictions for this service."),
     ("96", "Non-covered charge(s).")),
    (("DN97", "NO AUTHORIZATION ON FILE"),
     ("M127", "Missing patient medical record for this service."),
     ("197", "Precertification/notification/authorization/pre-treatment absent.")),
]
PROCEDURES = [("HC", "99213", "0510"), ("HC", "85025", "0300"), ("HC", "80053", "0301"),
              ("HC", "93000", "0730"), ("HC", "36415", "0300"), ("HC", "76700", "0402")]
PAYER_PHONES = ["8006240756", "8668543524", "8772348123", "8004210025"]


def _split(total: Decimal, parts: int, rng: random.Random) -> list[Decimal]:
    """Split a charge into line charges that add up to the cent."""
    weights = [rng.randint(1, 5) for _ in range(parts)]
    shares = [(total * w / sum(weights)).quantize(Decimal("0.01")) for w in weights]
    shares[-1] += total - sum(shares)
    return shares


def _charge(total_charges: str, rng: random.Random) -> Decimal:
    """The billed amount the request sent, or a made-up one when it sent none."""
    text = total_charges.replace(",", "").replace("$", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return Decimal(money(Decimal(text)))
    return Decimal(rng.randint(150, 4000))


def claim_status_lines(request_json: dict[str, Any], response_date: date) -> list[dict]:
    """The GET claim-info answer: one dict per service line, claim-level fields repeated."""
    scenario = claim_scenario(request_json)
    rng = _rng(request_json, "claim")
    dos = _parse_date(field(request_json, "admitDate"), response_date - timedelta(days=30))
    charge = _charge(field(request_json, "totalCharges"), rng)
    received = dos + timedelta(days=rng.randint(2, 6))
    adjudicated = received + timedelta(days=rng.randint(7, 20))
    claim = {
        "internalAccountNumber": field(request_json, "trackingId1"),
        "internalAccountNumber2": field(request_json, "trackingId2"),
        "patientLastName": field(request_json, "patientLastName").upper(),
        "patientFirstName": field(request_json, "patientFirstName").upper(),
        "subID": field(request_json, "subscriberId"),
        "billingEntityName": field(request_json, "billingProviderName").upper(),
        "responseDate": response_date.isoformat(),
        "payerID": field(request_json, "payerId"),
        "payerContactName": (field(request_json, "payerName") or field(request_json, "payerId"))
        .upper(),
        "payerContactPhone": rng.choice(PAYER_PHONES),
        "dateOfService": dos.isoformat(),
        "payerClmNo": "",
        "claimReceiptDate": "",
        "chargeAmt": money(charge),
        "paymentAmt": "",
        "adjudicationDate": "",
        "checkDate": "",
        "checkNumber": "",
        "authorizationCaseId": "",
        "authorizationDescription": "",
        "integrexId": _integrex_id(request_json, "claim"),
    }
    if scenario not in ("not_found", "rejected"):
        claim["payerClmNo"] = f"{rng.randint(10**12, 10**13 - 1)}"
        claim["claimReceiptDate"] = received.isoformat()
    n_lines = {"paid": rng.randint(1, 3), "adjusted": rng.randint(1, 3),
               "denied": rng.randint(1, 2)}.get(scenario, 1)
    charges = _split(charge, n_lines, rng)
    eft = rng.random() < 0.5
    lines = []
    for i, line_charge in enumerate(charges, start=1):
        qual, cpt, rev = rng.choice(PROCEDURES)
        line = {**claim, "svcLine": i, "procedureCdQual": qual, "procedureCd": cpt,
                "revenueCd": rev, "svcLnQty": rng.randint(1, 3), "allowedAmount": "",
                "coInsuranceAmount": "", "coPaymentAmount": "", "nonCoveredAmount": "",
                "checkStatus": "", "dateCheckCashed": "", "reasonSourceCd1": "",
                "reasonSourceCdDescTxt1": "", "reasonSourceCd2": "", "reasonSourceCdDescTxt2": "",
                "reasonSourceCd3": "", "reasonSourceCdDescTxt3": ""}
        line.update(_line_outcome(scenario, line_charge, rng))
        lines.append(line)
    _claim_level_outcome(scenario, lines, adjudicated, eft, rng)
    return lines


def _line_outcome(scenario: str, charge: Decimal, rng: random.Random) -> dict[str, str]:
    codes = {"paid": ("F1", rng.choice(["65", "1"])), "adjusted": ("F3", "101"),
             "denied": ("F2", "1"), "pending": ("P1", "20"), "not_found": ("A4", "35"),
             "rejected": ("A7", rng.choice(["21", "562"]))}[scenario]
    out = {"categoryCode": codes[0], "statusCode": codes[1],
           "categoryDescription": CATEGORIES[codes[0]], "statusDescription": STATUSES[codes[1]]}
    if scenario in ("paid", "adjusted"):
        allowed = (charge * Decimal(rng.randint(55, 90)) / 100).quantize(Decimal("0.01"))
        coins = (allowed * Decimal("0.2")).quantize(Decimal("0.01")) if rng.random() < 0.5 \
            else Decimal(0)
        copay = Decimal(rng.choice([0, 0, 20, 35]))
        out.update(allowedAmount=money(allowed), coInsuranceAmount=money(coins),
                   coPaymentAmount=money(copay), nonCoveredAmount=money(charge - allowed))
        out["_paid"] = money(max(allowed - coins - copay, Decimal(0)))
    elif scenario == "denied":
        (r1, d1), (r2, d2), (r3, d3) = rng.choice(DENIALS)
        out.update(allowedAmount="0.00", coInsuranceAmount="0.00", coPaymentAmount="0.00",
                   nonCoveredAmount=money(charge), reasonSourceCd1=r1, reasonSourceCdDescTxt1=d1,
                   reasonSourceCd2=r2, reasonSourceCdDescTxt2=d2, reasonSourceCd3=r3,
                   reasonSourceCdDescTxt3=d3)
    elif scenario == "rejected":
        out.update(reasonSourceCd1="RJ21", reasonSourceCdDescTxt1="CLAIM REJECTED AT FRONT END")
    return out


def _claim_level_outcome(scenario: str, lines: list[dict], adjudicated: date, eft: bool,
                         rng: random.Random) -> None:
    """Fill the claim-level payment fields, then repeat them on every line."""
    paid = sum((Decimal(line.pop("_paid", "0")) for line in lines), Decimal(0))
    claim: dict[str, str] = {}
    if scenario in ("paid", "adjusted", "denied"):
        claim["adjudicationDate"] = adjudicated.isoformat()
        claim["paymentAmt"] = money(paid)
    if scenario in ("paid", "adjusted"):
        check_date = adjudicated + timedelta(days=rng.randint(1, 5))
        claim["checkDate"] = check_date.isoformat()
        if eft:
            # EFTs have no check to cash: the service sends the text "null" (spec).
            claim["checkNumber"] = f"EFT{rng.randint(10**8, 10**9 - 1)}"
            claim.update(checkStatus="", dateCheckCashed="null")
        else:
            cashed = check_date + timedelta(days=rng.randint(3, 10))
            claim["checkNumber"] = f"{rng.randint(10**6, 10**7 - 1)}"
            claim.update(checkStatus="CASHED", dateCheckCashed=cashed.isoformat())
    if scenario == "adjusted":
        claim.update(authorizationCaseId=f"AUTH{rng.randint(100000, 999999)}",
                     authorizationDescription="PRIOR AUTHORIZATION - OUTPATIENT")
    if scenario == "pending":
        claim["paymentAmt"] = "null"
    for line in lines:
        line.update(claim)


# ---- insurance discovery ----------------------------------------------------------

PLANS = [
    ("AETNA", "AETNA", "PO", "Preferred Provider Organization", "PPO"),
    ("87726", "UNITEDHEALTHCARE", "HM", "Health Maintenance Organization", "HMO"),
    ("62308", "CIGNA", "PO", "Preferred Provider Organization", "PPO"),
    ("00590", "BLUE CROSS BLUE SHIELD", "MC", "Medicaid", "MEDICAID"),
    ("MCRA", "MEDICARE PART A", "MA", "Medicare Part A", "MEDICARE A"),
]
OOP_DED_KEYS = [
    f"{kind}($){who}{net}{rem}"
    for kind in ("oop", "ded")
    for who in ("Indiv", "Family")
    for net in ("InNetwork", "OutOfNetwork")
    for rem in ("", "Remaining")
]
# Variant 9 spells a few keys as the PDF extraction did, to exercise lenient reading.
GARBLED_KEYS = {
    "oop($)IndivInNetworkRemaining": "oop($) IndivInNetworkRemain ing",
    "ded($)FamilyOutOfNetworkRemaining": "ded($)\\FamilyOutOfNetworkR emaining",
    "coins(%)InNetwork": "coins(%)\\InNetwork",
}


def _coverage(request_json: dict[str, Any], rng: random.Random, response_date: date,
              index: int) -> dict[str, str]:
    payer_id, payer_name, type_code, type_desc, type_name = rng.choice(PLANS)
    first, last = (field(request_json, "patientFirstName").upper(),
                   field(request_json, "patientLastName").upper())
    sub_first = field(request_json, "subscriberFirstName").upper() or first
    sub_last = field(request_json, "subscriberLastName").upper() or last
    self_insured = (sub_first, sub_last) == (first, last)
    dob = field(request_json, "patientDob")
    begin = _parse_date(field(request_json, "beginDos"), response_date)
    member_id = field(request_json, "sub.MemberID") if index == 0 else ""
    member_id = member_id or f"{type_code}{rng.randint(10**8, 10**9 - 1)}"
    street = f"{rng.randint(100, 9999)} {rng.choice(['OAK', 'ELM', 'PINE', 'MAPLE'])} ST"
    address = f"{street}, SACRAMENTO, CA 958{rng.randint(10, 99)}"
    cov: dict[str, str] = {
        "internalAccountNumber1": field(request_json, "internalAccountNumber1"),
        "internalAccountNumber2": field(request_json, "internalAccountNumber2"),
        "patientLastName": last, "patientFirstName": first, "patientDOB": dob,
        "patientGender": field(request_json, "patientGender").upper(),
        "sub.MemberID": member_id,
        "relationshipCode": "18" if self_insured else "01",
        "relationshipDesc": "Self" if self_insured else "Spouse",
        "subLastName": sub_last, "subFirstName": sub_first,
        "subscriberDOB": field(request_json, "subscriberDob") or dob,
        "subscriberGender": (field(request_json, "subscriberGender")
                             or field(request_json, "patientGender")).upper(),
        "responseDate": response_date.isoformat(),
        "beginDOS": begin.isoformat(),
        "requestStatusCode": "1", "requestStatus": "Coverage Found",
        "coverageStatusCode": "1", "coverageStatusDesc": "Active Coverage",
        "coverageStartDate": date(begin.year - rng.randint(0, 4), 1, 1).isoformat(),
        "coverageEndDate": "" if index == 0 else date(begin.year, 12, 31).isoformat(),
        "groupNumber": f"GRP{rng.randint(10000, 99999)}",
        "planNumber": f"PLN{rng.randint(100, 999)}",
        "planTypeCode": type_code, "planType": type_name, "planTypeDescription": type_desc,
        "coverageLevelCode": "FAM" if rng.random() < 0.5 else "IND",
        "coverageLevelDescription": "",
        "benefitTypeCode": "30", "benefitTypeDesc": "Health Benefit Plan Coverage",
    }
    cov["coverageLevelDescription"] = {"FAM": "Family", "IND": "Individual"}[
        cov["coverageLevelCode"]]
    # One base deductible scales to the rest, so family >= individual, out-of-network >=
    # in-network and out-of-pocket >= deductible, as real plans have them.
    base = Decimal(rng.choice([500, 1000, 1500, 3000]))
    for key in OOP_DED_KEYS:
        limit = base * (2 if "Family" in key else 1) * (2 if "OutOfNetwork" in key else 1)
        cov[key] = money(limit * 3 if key.startswith("oop") else limit)
    for key in OOP_DED_KEYS:
        if key.endswith("Remaining"):
            cov[key] = money(Decimal(cov[key[: -len("Remaining")]])
                             * Decimal(rng.randint(0, 100)) / 100)
    cov.update({
        "coins(%)InNetwork": str(rng.choice([10, 20, 30])),
        "coins(%)OutOfNetwork": str(rng.choice([40, 50])),
        "copay($)": money(rng.choice([10, 20, 25, 30])),
        "copay($)Specialist": rng.choice(["", money(rng.choice([40, 50, 60]))]),
        "payerID1": payer_id, "payerName1": payer_name,
        "payerTPA": "False",
        "payerID2": payer_id if rng.random() < 0.5 else "",
        "payerName2": payer_name.title(),
        "payerPhone": rng.choice(PAYER_PHONES),
        "payerAddress": f"PO BOX {rng.randint(1000, 99999)}, LEXINGTON, KY 40512",
        "payerFax": f"800{rng.randint(1000000, 9999999)}",
        "payerWebsite": f"www.{payer_name.split()[0].lower()}.com",
        "altName": "", "altCategory": "", "altType": "", "altAddress": "", "altPhone": "",
        "primaryCareFacility": "", "pcpLastName": "", "pcpFirstName": "", "pcpNPI": "",
        "pcpAddress": "", "pcpPhone": "", "pcpFax": "",
        "patientAddress": address,
        "subscriberAddress": address,
        "integrexId": _integrex_id(request_json, f"discovery{index}"),
    })
    if type_code == "HM":  # HMOs name a primary care physician and often an IPA.
        cov.update(altName="SUTTER INDEPENDENT PHYSICIANS", altCategory="IPA",
                   altType="Independent Practice Association",
                   altAddress="2800 L ST, SACRAMENTO, CA 95816", altPhone="9167331000",
                   primaryCareFacility="SUTTER MEDICAL GROUP", pcpLastName="NGUYEN",
                   pcpFirstName="LINH", pcpNPI="1245319599",
                   pcpAddress="2801 K ST, SACRAMENTO, CA 95816", pcpPhone="9164540000",
                   pcpFax="9164540001")
    return cov


def discovery_coverages(request_json: dict[str, Any], response_date: date) -> list[dict]:
    """The GET insurance-discovery answer: zero, one or several coverages."""
    scenario = discovery_scenario(request_json)
    rng = _rng(request_json, "discovery")
    count = {"one": 1, "two": 2, "none": 0, "garbled": 1}[scenario]
    coverages = [_coverage(request_json, rng, response_date, i) for i in range(count)]
    if scenario == "garbled":
        coverages = [{GARBLED_KEYS.get(k, k): v for k, v in cov.items()} for cov in coverages]
    return coverages


CLAIM_LINE_FIELDS = [
    "internalAccountNumber", "internalAccountNumber2", "patientLastName", "patientFirstName",
    "subID", "billingEntityName", "responseDate", "payerID", "payerContactName",
    "payerContactPhone", "dateOfService", "payerClmNo", "claimReceiptDate", "chargeAmt",
    "paymentAmt", "adjudicationDate", "checkDate", "checkNumber", "svcLine", "categoryCode",
    "statusCode", "categoryDescription", "statusDescription", "procedureCdQual", "procedureCd",
    "revenueCd", "svcLnQty", "allowedAmount", "coInsuranceAmount", "coPaymentAmount",
    "nonCoveredAmount", "checkStatus", "dateCheckCashed", "reasonSourceCd1",
    "reasonSourceCdDescTxt1", "reasonSourceCd2", "reasonSourceCdDescTxt2", "reasonSourceCd3",
    "reasonSourceCdDescTxt3", "authorizationCaseId", "authorizationDescription", "integrexId",
]
DISCOVERY_FIELDS = [
    "internalAccountNumber1", "internalAccountNumber2", "patientLastName", "patientFirstName",
    "patientDOB", "patientGender", "sub.MemberID", "relationshipCode", "relationshipDesc",
    "subLastName", "subFirstName", "subscriberDOB", "subscriberGender", "responseDate",
    "beginDOS", "requestStatusCode", "requestStatus", "coverageStatusCode", "coverageStatusDesc",
    "coverageStartDate", "coverageEndDate", "groupNumber", "planNumber", "planTypeCode",
    "planType", "planTypeDescription", "coverageLevelCode", "coverageLevelDescription",
    "benefitTypeCode", "benefitTypeDesc", *OOP_DED_KEYS, "coins(%)InNetwork",
    "coins(%)OutOfNetwork", "copay($)", "copay($)Specialist", "payerID1", "payerName1",
    "payerTPA", "payerID2", "payerName2", "payerPhone", "payerAddress", "payerFax",
    "payerWebsite", "altName", "altCategory", "altType", "altAddress", "altPhone",
    "primaryCareFacility", "pcpLastName", "pcpFirstName", "pcpNPI", "pcpAddress", "pcpPhone",
    "pcpFax", "patientAddress", "subscriberAddress", "integrexId",
]
