"""Shape checks for medical codes: ICD-10-CM diagnoses, CPT and HCPCS Level II procedures.

The HCMS payer guide's own checks are simplified; real ICD-10-CM codes look
like S72.001A, CPT includes Category II (0001F) and Category III (0042T) codes, and HCPCS
Level II looks like J1100. These check the shape of a code, not whether it exists on the
date of service; the code tables (revcycle/codes.py) answer that.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured, ValidationError

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


# --- the real ICD-10-CM list ---------------------------------------------------------
# The full ICD-10-CM code list (CMS/NCHS, public domain) as bundled by the PyPI package
# simple-icd-10-cm (MIT; 1.5.0 ships the April 2026 list: code-list-April-2026.txt). We
# read its plain code list only (importing the package parses a 10 MB XML, ~1 s or more):
# a code is billable when it is a leaf, i.e. no longer code in the list extends it.
# Works offline: the list is inside the installed package.


@dataclass(frozen=True)
class Icd10cmList:
    version: str
    codes: frozenset[str]  # bare (no dot): categories, subcategories and codes
    billable: frozenset[str]


@functools.cache
def icd10cm_list() -> Icd10cmList:
    # find_spec locates the package without importing it (its import parses the XML).
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or spec.origin is None:
        raise ImproperlyConfigured("simple-icd-10-cm is not installed (pyproject.toml).")
    path = sorted((Path(spec.origin).parent / "data").glob("code-list-*.txt"))[-1]
    codes = sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                    if ICD10CM_RE.fullmatch(line.strip())})
    billable = {code for code, following in zip(codes, [*codes[1:], ""], strict=True)
                if not following.startswith(code)}
    version = path.name.removeprefix("code-list-").removesuffix(".txt")
    return Icd10cmList(version, frozenset(codes), frozenset(billable))


def billable_children(code: str, limit: int = 8) -> list[str]:
    """Billable codes under a category (`E11` -> E11.00, E11.01, ...), dotted."""
    bare = _clean(code).replace(".", "")
    found = sorted(c for c in icd10cm_list().billable if c.startswith(bare) and c != bare)
    return [normalise_icd10(c) for c in found[:limit]]


def icd10cm_problem(code: str | None) -> str:
    """Why this is not a billable ICD-10-CM code on the list, or "" when it is."""
    cleaned = _clean(code)
    if not is_icd10cm(cleaned):
        return f"{cleaned!r} is not valid. {ICD10CM_HELP}"
    bare = cleaned.replace(".", "")
    table = icd10cm_list()
    if bare not in table.codes:
        return (f"{normalise_icd10(cleaned)} is not on the ICD-10-CM code list "
                f"({table.version}).")
    if bare not in table.billable:
        children = billable_children(bare)
        more = ", ".join(children) + (" and more" if len(children) == 8 else "")
        return (f"{normalise_icd10(cleaned)} is a category, not a billable code: use a more "
                f"specific one{': ' + more if more else ''}.")
    return ""


def validate_billable_icd10cm(value: str | None) -> None:
    """On the real list and billable (payer claims); blank is left to `required`."""
    if not (value or "").strip():
        return
    problem = icd10cm_problem(value)
    if problem:
        raise ValidationError(problem, code="not_billable_icd10cm")
