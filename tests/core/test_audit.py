"""The audit log is append-only and readable by managers."""

from __future__ import annotations

from typing import Any

import pytest

from revcycle.audit import record_event
from revcycle.models import AuditEvent


def test_an_audit_event_cannot_be_changed(maya: Any, encounter: Any) -> None:
    event = record_event(None, "view", encounter, user=maya)
    event.detail = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).detail == ""


def test_an_audit_event_cannot_be_deleted(maya: Any, encounter: Any) -> None:
    event = record_event(None, "view", encounter, user=maya)
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_record_event_fills_who_what_and_where(rf: Any, alice: Any, encounter: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.7")
    request.user = alice
    event = record_event(request, "export", encounter, detail="42 rows")
    assert (event.username, event.action, event.object_type, event.object_id) == (
        "alice", "export", "revcycle.encounter", str(encounter.pk))
    assert event.facility == encounter.facility and event.encounter == encounter
    assert event.ip_address == "10.0.0.7"


def test_the_audit_log_page_lists_events_for_a_manager(client_for: Any, maya: Any,
                                                       alice: Any, encounter: Any) -> None:
    record_event(None, "view", encounter, user=alice, detail="from a test")
    response = client_for(maya).get("/audit/", {"user": "alice"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "from a test" in html and "revcycle.encounter" in html


def test_the_audit_log_filters_by_action(client_for: Any, maya: Any, alice: Any,
                                         encounter: Any) -> None:
    record_event(None, "view", encounter, user=alice, detail="viewed-it")
    record_event(None, "export", encounter, user=alice, detail="exported-it")
    html = client_for(maya).get("/audit/", {"action": "export"}).content.decode()
    assert "exported-it" in html and "viewed-it" not in html


def test_audit_events_cannot_be_changed_or_deleted_in_bulk(db):
    from revcycle.models import AuditEvent

    AuditEvent.objects.create(action="view", object_type="x", object_id="1")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(object_type="x").update(detail="changed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(object_type="x").detail == ""


def test_an_event_on_a_record_without_a_facility_finds_it_through_its_links(
        alice: Any, payer: Any, encounter: Any) -> None:
    """A webhook delivery names only its connection (not about a patient) and its claim:
    the claim's facility and encounter are recorded, not the connection's nothing."""
    from payer.models import ClaimEvent, PayerClaim, WebhookDelivery

    claim = PayerClaim.objects.create(facility=encounter.facility, connection=payer,
                                      encounter=encounter, claim_id="CLM-1",
                                      patient_name="JANE DOE", diagnosis_code="J20.9",
                                      amount="10.00")
    delivery = WebhookDelivery.objects.create(connection=payer, claim=claim,
                                              outcome="accepted", http_status=200)
    note = ClaimEvent.objects.create(claim=claim, status="queued", source="form")
    for record in (delivery, note):
        event = record_event(None, "view", record, user=alice)
        assert (event.facility, event.encounter) == (encounter.facility, encounter)
        assert event.object_id == str(record.pk)


def test_a_failed_sign_in_keeps_only_the_first_two_letters_typed() -> None:
    from revcycle.audit import mask_username

    assert mask_username("  hunter2-password ") == "hu***"
    assert mask_username("   ") == "" and mask_username("") == ""


def test_an_admin_page_that_recorded_its_own_read_adds_no_second_row(
        rf: Any, ada: Any, encounter: Any) -> None:
    from django.urls import resolve, reverse

    from revcycle.audit import record_admin_read

    def read(url: str, *, recorded: bool) -> None:
        request = rf.get(url)
        request.user, request.session, request.resolver_match = ada, {}, resolve(url)
        request._audit_read_recorded = recorded
        record_admin_read(request)

    change = reverse("admin:revcycle_encounter_change", args=[encounter.pk])
    read(change, recorded=True)
    read(reverse("audit_log"), recorded=False)  # not an admin page
    assert not AuditEvent.objects.exists()
    read(change, recorded=False)
    assert AuditEvent.objects.get().detail == "admin change view"
