"""Shape checks for medical codes: ICD-10-CM diagnoses, CPT and HCPCS Level II procedures.

The HCMS payer guide's own checks are simplified; real ICD-10-CM codes look
like S72.001A, CPT includes Category II (0001F) and Category III (0042T) codes, and HCPCS
Level II looks like J1100. These check the shape of a code, not whether it exists on the
date of service; the code tables (revcycle/codes.py) answer that.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError

# ICD-10-CM: a letter, a digit, a letter or digit (the category), then up to four more
# letters or digits, written after a dot. Every letter is used, U included (U07.1 is
# COVID-19), and the placeholder X is just a letter here.
ICD10CM_RE = re.compile(r"[A-Z][0-9][A-Z0-9](?:\.?[A-Z0-9]{1,4})?")

# CPT: Category I is five digits (anesthesia codes start with 0: 00100); Category II
# ends in F (0001F), Category III in T (0042T), and Proprietary Laboratory Analyses in U
# (0001U).
CPT_RE = re.compile(r"[0-9]{4}[0-9FTU]")

# HCPCS Level II: a letter and four digits. D is left out because D codes are the ADA's
# dental CDT codes, and no Level II section uses F, I, N, O or W to Z.
HCPCS_RE = re.compile(r"[A-CEGHJ-MP-V][0-9]{4}")

ICD10CM_HELP = (
    "ICD-10-CM codes look like S72.001A or I10: a letter, two characters, then optionally "
    "a dot and up to four more."
)
CPT_HELP = (
    "CPT codes are five characters: five digits (99213), or four digits and F (0001F), "
    "T (0042T) or U (0001U)."
)
HCPCS_HELP = "HCPCS Level II codes are a letter and four digits, like J1100 or A0428."
PROCEDURE_HELP = (
    "A procedure code is a CPT code (99213, 0001F, 0042T) or a HCPCS Level II code (J1100)."
)


def _clean(code: str | None) -> str:
    return "".join((code or "").split()).upper()


def is_icd10cm(code: str | None) -> bool:
    return ICD10CM_RE.fullmatch(_clean(code)) is not None


def is_cpt(code: str | None) -> bool:
    return CPT_RE.fullmatch(_clean(code)) is not None


def is_hcpcs(code: str | None) -> bool:
    return HCPCS_RE.fullmatch(_clean(code)) is not None


def is_procedure_code(code: str | None) -> bool:
    return is_cpt(code) or is_hcpcs(code)


def normalise_icd10(code: str | None) -> str:
    """Uppercase, without spaces, with the dot after the category: `s72001a` -> `S72.001A`.

    Anything that is not the shape of an ICD-10-CM code comes back cleaned but otherwise
    as it was, for the validator to reject with its message."""
    cleaned = _clean(code)
    if not is_icd10cm(cleaned):
        return cleaned
    bare = cleaned.replace(".", "")
    return bare if len(bare) == 3 else f"{bare[:3]}.{bare[3:]}"


def _validate(
    value: str | None, check: Callable[[str | None], bool], message: str, error_code: str
) -> None:
    if not (value or "").strip():
        return
    if not check(value):
        raise ValidationError(f"{value!r} is not valid. {message}", code=error_code)


def validate_icd10cm(value: str | None) -> None:
    _validate(value, is_icd10cm, ICD10CM_HELP, "invalid_icd10cm")


def validate_cpt(value: str | None) -> None:
    _validate(value, is_cpt, CPT_HELP, "invalid_cpt")


def validate_hcpcs(value: str | None) -> None:
    _validate(value, is_hcpcs, HCPCS_HELP, "invalid_hcpcs")


def validate_procedure_code(value: str | None) -> None:
    _validate(value, is_procedure_code, PROCEDURE_HELP, "invalid_procedure_code")
