"""Smart's per-facility arrangements live in smartlink, edited on the facility's admin page."""

from __future__ import annotations

from typing import Any

from django.test import Client

from revcycle.models import Facility
from smartlink.models import SmartFacility


def test_a_facility_without_smart_settings_reads_the_defaults(lakeside: Facility) -> None:
    found = SmartFacility.for_facility(lakeside)
    assert (found.facility, found.provider_key, found.manages_copay, found.late_diagnosis) == (
        lakeside, "", False, False)
    assert not SmartFacility.objects.exists()


def test_a_facility_with_smart_settings_reads_its_row(st_marys: Facility) -> None:
    assert SmartFacility.for_facility(st_marys).provider_key == "SKSP_6122"


def test_the_facility_admin_page_edits_the_smart_settings(client_for: Any, ada: Any,
                                                          lakeside: Facility) -> None:
    client: Client = client_for(ada)
    url = f"/admin/revcycle/facility/{lakeside.pk}/change/"
    assert b"Smart provider key" in client.get(url).content
    response = client.post(url, {
        "name": lakeside.name, "npi": lakeside.npi, "tax_id": lakeside.tax_id, "address": "",
        "time_zone": lakeside.time_zone,
        "smart_settings-TOTAL_FORMS": "1", "smart_settings-INITIAL_FORMS": "0",
        "smart_settings-MIN_NUM_FORMS": "0", "smart_settings-MAX_NUM_FORMS": "1",
        "smart_settings-0-provider_key": "SKSP_9", "smart_settings-0-manages_copay": "on",
        "smart_settings-0-facility": "",
    })
    assert response.status_code == 302, response.content[:2000]
    saved = SmartFacility.objects.get(facility=lakeside)
    assert (saved.provider_key, saved.manages_copay, saved.late_diagnosis) == (
        "SKSP_9", True, False)
