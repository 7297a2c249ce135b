from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from revcycle import codes
from revcycle.codes import (
    SHIPPED_DIR,
    CodeImportError,
    describe,
    import_file,
    label,
    load_shipped,
    read_shipped,
)
from revcycle.medcodes import is_cpt, is_hcpcs, is_icd10cm
from revcycle.models import CodeDescription


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    codes.clear_cache()
    yield
    codes.clear_cache()


def _csv(text: str) -> io.BytesIO:
    upload = io.BytesIO(text.encode())
    upload.name = "official.csv"
    return upload


# --- the shipped lists ---------------------------------------------------------------


def test_every_shipped_row_names_a_known_code_set_and_a_source() -> None:
    rows = list(read_shipped())
    assert {r.code_set for r in rows} == set(CodeDescription.CodeSet.values)
    assert all(r.source and r.description and r.code for r in rows)


def test_no_shipped_code_has_two_versions_starting_on_the_same_day() -> None:
    keys = [(r.code_set, r.code, r.effective_date) for r in read_shipped()]
    assert len(keys) == len(set(keys))


def test_shipped_clinical_codes_have_the_shape_of_their_code_set() -> None:
    checks = {"icd10cm": is_icd10cm, "cpt": is_cpt, "hcpcs": is_hcpcs}
    for row in read_shipped():
        if row.code_set in checks:
            assert checks[row.code_set](row.code), row


def test_the_shipped_files_have_the_documented_columns() -> None:
    for path in Path(SHIPPED_DIR).glob("*.csv"):
        with path.open() as f:
            header = next(csv.reader(f))
        assert header == [
            "code_set", "code", "description", "effective_date", "deactivation_date", "source",
        ], path.name


def test_the_codes_the_payer_guide_uses_are_shipped() -> None:
    shipped = {(r.code_set, r.code) for r in read_shipped()}
    for code in ["J20.9", "Z00.00", "I25.10", "E11.9", "I10", "J45.909", "R51.9", "N39.0",
                 "K21.9", "S72.001A", "Z51.12"]:
        assert ("icd10cm", code) in shipped
    for category in ["A0", "A1", "A2", "A3", "A4", "A6", "A7", "A8", "D0", "E0", "F1", "F2",
                     "F3F", "F3N", "F4", "P0", "P5", "R0", "R5"]:
        assert ("x12_category", category) in shipped


@pytest.mark.django_db
def test_the_migration_loaded_the_shipped_descriptions() -> None:
    assert CodeDescription.objects.count() == len(list(read_shipped()))
    assert describe("x12_category", "F1") == "Finalized and paid: the claim or line was paid."


@pytest.mark.django_db
def test_loading_the_shipped_lists_twice_changes_nothing() -> None:
    before = CodeDescription.objects.count()
    assert load_shipped() == before
    assert load_shipped() == before
    assert CodeDescription.objects.count() == before


@pytest.mark.django_db
def test_loading_the_shipped_lists_restores_an_edited_description() -> None:
    CodeDescription.objects.filter(code_set="carc", code="45").update(description="edited")
    load_shipped()
    assert "fee schedule" in describe("carc", "45")


# --- describe and label ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_code_shows_as_itself_with_no_description_on_file() -> None:
    assert describe("carc", "ZZ9") is None
    assert label("carc", "ZZ9") == "ZZ9: no description on file"


@pytest.mark.django_db
def test_a_blank_code_has_a_blank_label() -> None:
    assert label("carc", "") == ""
    assert label("carc", None) == ""
    assert label("carc", "   ") == ""


@pytest.mark.django_db
def test_a_known_code_shows_with_its_description() -> None:
    assert label("icd10cm", "I10") == "I10: Essential (primary) hypertension"


@pytest.mark.django_db
def test_diagnosis_codes_are_found_without_the_dot_and_in_lowercase() -> None:
    assert label("icd10cm", "s72001a") == (
        "S72.001A: Fracture of unspecified part of neck of right femur, "
        "initial encounter for closed fracture"
    )


@pytest.mark.django_db
def test_zero_padded_status_codes_are_found() -> None:
    assert describe("x12_status", "035") == describe("x12_status", "35") is not None


@pytest.mark.django_db
def test_r51_was_billable_headache_until_september_2020() -> None:
    assert describe("icd10cm", "R51", on=date(2020, 9, 30)).startswith("Headache (valid until")


@pytest.mark.django_db
def test_r51_is_a_category_from_october_2020_and_r51_9_takes_over() -> None:
    assert "not billable" in describe("icd10cm", "R51", on=date(2020, 10, 1))
    assert describe("icd10cm", "R51.9", on=date(2020, 10, 1)) == "Headache, unspecified"


@pytest.mark.django_db
def test_m54_5_changes_meaning_on_1_october_2021() -> None:
    assert "valid until 2021-09-30" in describe("icd10cm", "M54.5", on=date(2021, 9, 30))
    assert "not billable" in describe("icd10cm", "M54.5", on=date(2021, 10, 1))


@pytest.mark.django_db
def test_a_code_before_its_first_version_falls_back_to_the_latest_version() -> None:
    assert describe("icd10cm", "R51.9", on=date(2019, 1, 1)) == "Headache, unspecified"


@pytest.mark.django_db
def test_a_retired_code_still_shows_its_last_description() -> None:
    assert "deleted" in describe("cpt", "99201", on=date(2026, 1, 1))


@pytest.mark.django_db
def test_j45_9_is_marked_as_a_category_that_is_not_billable() -> None:
    assert "not billable" in describe("icd10cm", "J45.9")
    assert describe("icd10cm", "J45.909") == "Unspecified asthma, uncomplicated"


@pytest.mark.django_db
def test_descriptions_are_cached_until_the_cache_is_cleared(
    django_assert_num_queries: Any,
) -> None:
    describe("carc", "16")
    with django_assert_num_queries(0):
        describe("carc", "45")
        label("carc", "197")
    codes.clear_cache()
    with django_assert_num_queries(1):
        describe("carc", "45")


# --- importing an official list -----------------------------------------------------------


@pytest.mark.django_db
def test_an_official_list_replaces_our_wording_and_adds_new_codes() -> None:
    report = import_file(
        _csv("Code,Description,Start Date,Stop Date\n"
             "45,Official wording for 45.,,\n"
             "999,A brand new code.,01/01/2026,\n"),
        code_set="carc", source="X12 2026-07",
    )
    assert (report.created, report.updated, report.skipped) == (1, 1, [])
    assert describe("carc", "45") == "Official wording for 45."
    new = CodeDescription.objects.get(code_set="carc", code="999")
    assert (new.effective_date, new.source) == (date(2026, 1, 1), "X12 2026-07")


@pytest.mark.django_db
def test_an_import_reports_bad_rows_by_line_number_and_loads_the_rest() -> None:
    report = import_file(
        _csv("code_set,code,description,effective_date,deactivation_date\n"
             "carc,900,Good row.,2026-01-01,\n"
             "carc,901,,2026-01-01,\n"
             "carc,902,Bad date.,31/12/2026,\n"
             "nonsense,903,Unknown set.,,\n"
             "carc,904,Stops before it starts.,2026-02-01,2026-01-01\n"
             ",,,,\n"
             "rarc,N999,Good row too.,,12/31/2030\n")
    )
    assert report.created == 2
    assert [line for line, _ in report.skipped] == [3, 4, 5, 6]
    reasons = dict(report.skipped)
    assert "no description" in reasons[3]
    assert "31/12/2026" in reasons[4]
    assert "nonsense" in reasons[5]
    assert "before it starts" in reasons[6]
    assert CodeDescription.objects.get(code="N999").deactivation_date == date(2030, 12, 31)


@pytest.mark.django_db
def test_an_imported_diagnosis_is_stored_with_its_dot() -> None:
    import_file(_csv("CODE,DESCRIPTION\ns72001b,\"Closed fracture, subsequent\"\n"), "icd10cm")
    assert CodeDescription.objects.filter(code_set="icd10cm", code="S72.001B").exists()


@pytest.mark.django_db
def test_an_import_without_a_code_set_says_so() -> None:
    with pytest.raises(CodeImportError, match="code_set"):
        import_file(_csv("code,description\n1,x\n"))


@pytest.mark.django_db
def test_an_import_without_a_description_column_says_which_columns_it_found() -> None:
    with pytest.raises(CodeImportError, match="it has: code, text"):
        import_file(_csv("code,text\n1,x\n"), "carc")


@pytest.mark.django_db
def test_a_binary_file_is_refused() -> None:
    with pytest.raises(CodeImportError, match="binary"):
        import_file(io.BytesIO(b"PK\x03\x04\x00\x00"), "carc")


@pytest.mark.django_db
def test_a_windows_encoded_file_is_read() -> None:
    upload = io.BytesIO("code,description\n998,Caf\xe9 rule.\n".encode("cp1252"))
    import_file(upload, "carc")
    assert describe("carc", "998") == "Caf\u00e9 rule."


# --- the import_codes command ------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_imports_a_file_and_prints_the_counts(tmp_path: Path) -> None:
    path = tmp_path / "carc.csv"
    path.write_text("Code,Description,Start Date,Deactivation Date\n"
                    "45,Official 45.,,\nABC,,,\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_codes", str(path), "--code-set", "carc", "--source", "X12 2026-07",
                 stdout=out, stderr=err)
    assert "0 created, 1 updated, 1 skipped" in out.getvalue()
    assert "line 3: code ABC has no description" in err.getvalue()
    assert CodeDescription.objects.get(code_set="carc", code="45").source == "X12 2026-07"


@pytest.mark.django_db
def test_the_command_loads_the_shipped_lists() -> None:
    out = io.StringIO()
    call_command("import_codes", "--shipped", stdout=out)
    assert "0 created" in out.getvalue()


@pytest.mark.django_db
def test_the_command_fails_clearly_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read .*No such file"):
        call_command("import_codes", str(tmp_path / "missing.csv"), "--code-set", "carc")


def test_the_command_wants_a_file_or_shipped() -> None:
    with pytest.raises(CommandError, match="either a FILE"):
        call_command("import_codes")
