"""`manage.py facility add|list`: a site's facilities configured by a script."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from revcycle.models import AuditEvent, Facility


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("facility", *args, stdout=out)
    return out.getvalue()


def test_add_creates_a_facility_with_its_smart_settings_and_members(alice: Any, bob: Any) -> None:
    output = run("add", "General Hospital", "--npi", "1245319599", "--tax-id", "123456789",
                 "--members", "alice", "bob", "--smart-provider-key", "SKSP_1",
                 "--smart-manages-copay", "--smart-late-diagnosis")
    facility = Facility.objects.get(npi="1245319599")
    assert f"Created facility {facility.pk}" in output
    assert (facility.name, facility.tax_id, facility.smart_provider_key) == (
        "General Hospital", "123456789", "SKSP_1")
    assert facility.smart_manages_copay and facility.smart_late_diagnosis
    assert set(facility.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert AuditEvent.objects.filter(object_id=str(facility.pk), action="create").exists()


def test_add_again_updates_the_facility_with_that_npi_and_keeps_the_rest(st_marys: Any,
                                                                       alice: Any) -> None:
    run("add", "St. Mary's Hospital", "--npi", st_marys.npi, "--no-smart-manages-copay",
        "--smart-late-diagnosis")
    assert Facility.objects.count() == 1
    facility = Facility.objects.get(pk=st_marys.pk)
    assert facility.smart_late_diagnosis and not facility.smart_manages_copay
    assert (facility.tax_id, facility.smart_provider_key) == ("999887777", "SKSP_6122")
    assert list(facility.members.all()) == [alice]  # --members left out: kept


def test_an_npi_with_a_wrong_check_digit_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="check digit"):
        run("add", "Typo Clinic", "--npi", "1245319598")
    assert not Facility.objects.exists()


def test_an_unknown_member_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="no user named nobody"):
        run("add", "Clinic", "--npi", "1245319599", "--members", "nobody")
    assert not Facility.objects.exists()


def test_list_shows_each_facility_with_members_and_smart_settings(st_marys: Any,
                                                                  alice: Any) -> None:
    line = run("list").strip()
    assert line == (f"{st_marys.pk}\tSt. Mary's Hospital\t1083052872\t999887777\talice\t"
                    "smart key SKSP_6122, co-pay by Smart no, late diagnosis no")
