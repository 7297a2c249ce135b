from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from revcycle.medcodes import (
    is_cpt,
    is_hcpcs,
    is_icd10cm,
    is_procedure_code,
    normalise_icd10,
    validate_cpt,
    validate_hcpcs,
    validate_icd10cm,
    validate_procedure_code,
)

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HCPCS_LETTERS = "ABCEGHJKLMPQRSTUV"

icd10_codes = st.builds(
    lambda first, second, third, rest: f"{first}{second}{third}" + (f".{rest}" if rest else ""),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.sampled_from("0123456789"),
    st.sampled_from(ALNUM),
    st.text(alphabet=ALNUM, min_size=0, max_size=4),
)
cpt_codes = st.builds(
    lambda digits, last: digits + last,
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.sampled_from("0123456789FTU"),
)
hcpcs_codes = st.builds(
    lambda letter, digits: letter + digits,
    st.sampled_from(HCPCS_LETTERS),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)


def _messy(code: str, spaces: str) -> str:
    return f"{spaces}{code.lower()}{spaces}"


@pytest.mark.parametrize("code", ["S72.001A", "S72001A", "I10", "Z00.00", "J45.909", "U07.1",
                                  "W19.XXXA", "F32.A", "s72.001a", " E11.9 "])
def test_real_icd10cm_codes_are_accepted(code: str) -> None:
    assert is_icd10cm(code)


@pytest.mark.parametrize("code", ["", "I1", "110", "IA0", "I10.", "S72.001AB", "S72..001",
                                  "S7.2001", "99213", "I10-", None])
def test_malformed_icd10cm_codes_are_refused(code: str | None) -> None:
    assert not is_icd10cm(code)


@pytest.mark.parametrize("code,expected", [("s72001a", "S72.001A"), ("S72.001A", "S72.001A"),
                                           ("i10", "I10"), (" z0000 ", "Z00.00"),
                                           ("u071", "U07.1"), ("not a code", "NOTACODE")])
def test_normalising_a_diagnosis_puts_the_dot_after_the_category(code: str, expected: str) -> None:
    assert normalise_icd10(code) == expected


@pytest.mark.parametrize("code", ["99213", "00100", "85025", "0001F", "3074F", "0042T", "0001U"])
def test_cpt_accepts_category_i_ii_and_iii_codes(code: str) -> None:
    assert is_cpt(code)


@pytest.mark.parametrize("code", ["9921", "992133", "9921A", "J1100", "0001X", "F0001", ""])
def test_cpt_refuses_what_is_not_five_characters_of_the_right_kind(code: str) -> None:
    assert not is_cpt(code)


@pytest.mark.parametrize("code", ["J1100", "A0428", "E0114", "G0438", "Q0091", "V2020", "L3000"])
def test_hcpcs_level_ii_codes_are_accepted(code: str) -> None:
    assert is_hcpcs(code)


@pytest.mark.parametrize("code", ["D0120", "I1000", "O1000", "W1000", "J110", "J11000", "99213"])
def test_hcpcs_refuses_other_letters_and_lengths(code: str) -> None:
    assert not is_hcpcs(code)


def test_a_procedure_code_is_cpt_or_hcpcs() -> None:
    assert is_procedure_code("99213") and is_procedure_code("0042T")
    assert is_procedure_code("J1100")
    assert not is_procedure_code("S72.001A")


@given(icd10_codes, st.sampled_from(["", " ", "  ", "\t"]))
def test_every_well_formed_diagnosis_passes_in_any_case_and_spacing(code: str, pad: str) -> None:
    assert is_icd10cm(code)
    assert is_icd10cm(_messy(code, pad))
    assert is_icd10cm(code.replace(".", ""))


@given(icd10_codes)
def test_normalising_a_diagnosis_is_stable_and_keeps_it_valid(code: str) -> None:
    once = normalise_icd10(code.replace(".", "").lower())
    assert once == code
    assert normalise_icd10(once) == once


@given(cpt_codes, st.sampled_from(["", " ", "\n"]))
def test_every_generated_cpt_code_passes(code: str, pad: str) -> None:
    assert is_cpt(_messy(code, pad))
    validate_cpt(code)
    validate_procedure_code(code)


@given(hcpcs_codes, st.sampled_from(["", " "]))
def test_every_generated_hcpcs_code_passes(code: str, pad: str) -> None:
    assert is_hcpcs(_messy(code, pad))
    validate_hcpcs(code)
    validate_procedure_code(code)


def test_the_shapes_overlap_so_the_field_decides_which_check_applies() -> None:
    # HCPCS J1100 written without a dot has the shape of ICD-10-CM J11.00.
    assert is_hcpcs("J1100") and is_icd10cm("J1100")
    assert normalise_icd10("J1100") == "J11.00"


def test_the_diagnosis_message_says_what_a_correct_code_looks_like() -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_icd10cm("S7")
    message = excinfo.value.messages[0]
    assert "'S7' is not valid" in message
    assert "S72.001A or I10" in message
    assert excinfo.value.code == "invalid_icd10cm"


def test_the_procedure_messages_name_examples() -> None:
    with pytest.raises(ValidationError, match="0001F"):
        validate_cpt("1234")
    with pytest.raises(ValidationError, match="J1100"):
        validate_hcpcs("X1234")
    with pytest.raises(ValidationError, match="CPT code .* or a HCPCS"):
        validate_procedure_code("S72.001A")


def test_blank_values_are_left_to_the_required_check() -> None:
    for validate in (validate_icd10cm, validate_cpt, validate_hcpcs, validate_procedure_code):
        assert validate("") is None  # no ValidationError: "required" is the form's job
        assert validate(None) is None
