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


def test_add_creates_a_facility_with_its_members(alice: Any, bob: Any) -> None:
    output = run("add", "General Hospital", "--npi", "1245319599", "--tax-id", "123456789",
                 "--members", "alice", "bob")
    facility = Facility.objects.get(npi="1245319599")
    assert f"Created facility {facility.pk}" in output
    assert (facility.name, facility.tax_id) == ("General Hospital", "123456789")
    assert set(facility.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert AuditEvent.objects.filter(object_id=str(facility.pk), action="create").exists()


def test_add_again_updates_the_facility_with_that_npi_and_keeps_the_rest(st_marys: Any,
                                                                       alice: Any) -> None:
    run("add", "St. Mary's Hospital", "--npi", st_marys.npi, "--address", "1 Main St")
    assert Facility.objects.count() == 1
    facility = Facility.objects.get(pk=st_marys.pk)
    assert (facility.tax_id, facility.address) == ("999887777", "1 Main St")
    assert list(facility.members.all()) == [alice]  # --members left out: kept


def test_an_npi_with_a_wrong_check_digit_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="check digit"):
        run("add", "Typo Clinic", "--npi", "1245319598")
    assert not Facility.objects.exists()


def test_an_unknown_member_is_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="no user named nobody"):
        run("add", "Clinic", "--npi", "1245319599", "--members", "nobody")
    assert not Facility.objects.exists()


def test_time_zone_is_set_and_kept_when_left_out(st_marys: Any) -> None:
    run("add", "St. Mary's Hospital", "--npi", st_marys.npi, "--time-zone", "America/Chicago")
    assert Facility.objects.get(pk=st_marys.pk).time_zone == "America/Chicago"
    run("add", "St. Mary's Hospital", "--npi", st_marys.npi, "--address", "1 Main St")
    assert Facility.objects.get(pk=st_marys.pk).time_zone == "America/Chicago"


def test_a_time_zone_that_is_not_an_iana_name_is_refused(st_marys: Any) -> None:
    with pytest.raises(CommandError, match="time_zone: .*not a time zone name"):
        run("add", "St. Mary's Hospital", "--npi", st_marys.npi, "--time-zone", "Central Time")
    assert Facility.objects.get(pk=st_marys.pk).time_zone == st_marys.time_zone


def test_list_shows_each_facility_with_its_members(st_marys: Any, alice: Any) -> None:
    line = run("list").strip()
    assert line == f"{st_marys.pk}\tSt. Mary's Hospital\t1083052872\t999887777\talice"


def test_smart_facility_sets_the_smart_arrangements_and_keeps_what_is_left_out(
        st_marys: Any) -> None:
    from smartlink.models import SmartFacility

    call_command("smart_facility", st_marys.npi, "--provider-key", "SKSP_1",
                 "--manages-copay", "--late-diagnosis", stdout=io.StringIO())
    call_command("smart_facility", st_marys.npi, "--no-manages-copay", stdout=io.StringIO())
    settings = SmartFacility.objects.get(facility=st_marys)
    assert (settings.provider_key, settings.manages_copay, settings.late_diagnosis) == (
        "SKSP_1", False, True)
    assert AuditEvent.objects.filter(object_id=str(st_marys.pk), action="change").count() == 2
