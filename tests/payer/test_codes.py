from __future__ import annotations

import pytest

from payer.forms import PayerClaimForm

pytestmark = pytest.mark.django_db


def _form(alice, payer, st_marys, **changes):
    data = {"reference": "RC-1", "connection": payer.pk, "facility": st_marys.pk,
            "patient_name": "JANE DOE", "insurance_id": "BC-789-456", "diagnosis_code": "J20.9",
            "amount": "1250.00", "procedure_code": "99213", "priority": "medium"}
    data.update(changes)
    return PayerClaimForm(data, user=alice)


@pytest.mark.parametrize("code", ["S72.001A", "J20.9", "I10", "U07.1", "s72001a"])
def test_real_icd10cm_codes_are_accepted(alice, payer, st_marys, code):
    form = _form(alice, payer, st_marys, diagnosis_code=code)
    assert form.is_valid(), form.errors


def test_an_icd10_code_without_its_dot_is_sent_with_it(alice, payer, st_marys):
    form = _form(alice, payer, st_marys, diagnosis_code="s72001a")
    assert form.is_valid()
    assert form.body()["diagnosis_code"] == "S72.001A"


@pytest.mark.parametrize("code", ["99213", "0001F", "0042T", "J1100", "00100"])
def test_cpt_category_ii_and_iii_and_hcpcs_codes_are_accepted(alice, payer, st_marys, code):
    form = _form(alice, payer, st_marys, procedure_code=code)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("field,code", [
    ("diagnosis_code", "12345"), ("diagnosis_code", "J2"), ("diagnosis_code", "garbage"),
    ("procedure_code", "9921"), ("procedure_code", "ABCDE"), ("procedure_code", "0001X"),
])
def test_garbage_codes_are_refused(alice, payer, st_marys, field, code):
    form = _form(alice, payer, st_marys, **{field: code})
    assert not form.is_valid()
    assert field in form.errors


def test_the_body_uses_the_guides_names_and_fills_descriptions_from_our_tables(
        alice, payer, st_marys):
    form = _form(alice, payer, st_marys, patient_gender="Other", emergency="on",
                 date_of_service="2026-01-05")
    assert form.is_valid(), form.errors
    body = form.body()
    assert set(body) <= {"patient_name", "insurance_id", "diagnosis_code", "amount",
                         "procedure_code", "diagnosis_description", "procedure_description",
                         "date_of_service", "priority", "patient_id", "notes", "provider_id",
                         "provider_name", "referring_physician", "prior_authorization",
                         "patient_dob", "patient_gender", "emergency"}
    assert body["amount"] == "1250.00"
    assert body["emergency"] is True
    assert body["patient_gender"] == "Other"
    assert body["date_of_service"] == "2026-01-05"
    assert body["diagnosis_description"]  # J20.9 ships with a description


def test_a_connection_that_does_not_serve_the_facility_is_refused(alice, payer, st_marys, lakeside):
    lakeside.members.add(alice)
    form = _form(alice, payer, st_marys, facility=lakeside.pk)
    assert not form.is_valid()
    assert "connection" in form.errors


def test_the_code_lookup_shows_the_description_as_the_biller_types(client_for, alice):
    response = client_for(alice).get("/claims/payer/code/",
                                     {"field": "diagnosis_code", "diagnosis_code": "j20.9"},
                                     HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"J20.9: " in response.content
    assert b"no description on file" not in response.content
    bad = client_for(alice).get("/claims/payer/code/",
                                {"field": "procedure_code", "procedure_code": "12"})
    assert b"CPT" in bad.content and b'data-ok="0"' in bad.content


@pytest.mark.parametrize("code", ["E11", "M54.5", "S72.001", "R51"])
def test_a_category_code_is_refused_with_its_billable_children_suggested(
        alice, payer, st_marys, code):
    form = _form(alice, payer, st_marys, diagnosis_code=code)
    assert not form.is_valid()
    message = form.errors["diagnosis_code"][0]
    assert "not a billable code" in message
    assert f"{code}" in message and ("." in message.split("one:")[1])


def test_e11_suggests_e11_children(alice, payer, st_marys):
    form = _form(alice, payer, st_marys, diagnosis_code="E11")
    assert not form.is_valid()
    assert "E11.00" in form.errors["diagnosis_code"][0]


@pytest.mark.parametrize("code", ["A99.99", "Z99.999", "U99.9"])
def test_a_well_shaped_code_that_is_not_on_the_list_is_refused(alice, payer, st_marys, code):
    form = _form(alice, payer, st_marys, diagnosis_code=code)
    assert not form.is_valid()
    assert "not on the ICD-10-CM code list" in form.errors["diagnosis_code"][0]


def test_a_cpt_code_is_checked_for_shape_only_and_has_no_description_on_file(
        client_for, alice, payer, st_marys):
    """CPT is the AMA's: 99999 has the shape of a CPT code, so it passes, undescribed."""
    assert _form(alice, payer, st_marys, procedure_code="99999").is_valid()
    response = client_for(alice).get("/claims/payer/code/",
                                     {"field": "procedure_code", "procedure_code": "99999"})
    assert b"no description on file" in response.content


def test_the_code_lookup_refuses_a_category_as_the_biller_types(client_for, alice):
    """The suggestions are the category's first billable codes in code order (E11.00 first;
    E11.9, the guide's common code, comes after the eighth and is not offered)."""
    response = client_for(alice).get("/claims/payer/code/",
                                     {"field": "diagnosis_code", "diagnosis_code": "e11"})
    text = response.content.decode()
    assert 'data-ok="0"' in text
    assert ("E11 is a category, not a billable code: use a more specific one: E11.00, E11.01, "
            "E11.10, E11.11, E11.21, E11.22, E11.29, E11.311 and more.") in text
    assert "E11.9" not in text


def test_the_sandbox_accepts_every_diagnosis_the_app_accepts(alice, payer, st_marys):
    from revcycle.medcodes import icd10cm_list, normalise_icd10
    from sandbox.payer import is_icd10cm as sandbox_accepts

    for bare in sorted(icd10cm_list().billable)[::500] + ["U071", "S72001A"]:
        assert sandbox_accepts(normalise_icd10(bare)), bare
