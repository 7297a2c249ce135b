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


def test_an_event_with_no_user_record_or_detail_stores_empty_text(db: Any) -> None:
    event = record_event(None, "login_failed")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.user, stored.username, stored.detail, stored.object_type,
            stored.object_id, stored.facility, stored.encounter) == (
        None, "", "", "", "", None, None)


def test_an_anonymous_request_is_recorded_without_a_user(rf: Any, db: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    event = record_event(request, "login_failed", detail="al***")
    assert (event.user, event.username, event.detail) == (None, "", "al***")
    bare = rf.get("/", REMOTE_ADDR="10.0.0.9")  # not yet past the authentication middleware
    event = record_event(bare, "login_failed")
    assert (event.user, event.username, event.ip_address) == (None, "", "10.0.0.9")


def test_the_user_named_by_the_caller_is_recorded_not_the_requests(rf: Any, alice: Any,
                                                                  maya: Any) -> None:
    """A signal records the deletion for the person named, whoever's request it runs in."""
    request = rf.get("/")
    request.user = alice
    event = record_event(request, "change", user=maya)
    assert (event.user, event.username) == (maya, "maya")


def test_a_long_detail_is_cut_at_500_characters(db: Any) -> None:
    event = record_event(None, "export", detail="x" * 600)
    assert AuditEvent.objects.get(pk=event.pk).detail == "x" * 500


def test_the_callers_object_type_id_facility_and_encounter_win_over_the_records(
        alice: Any, payer: Any, encounter: Any, lakeside: Any) -> None:
    """Given the facility only, the encounter is still found from the record's links; given
    the encounter only, the facility is."""
    from payer.models import PayerClaim
    from revcycle.models import Encounter

    claim = PayerClaim.objects.create(facility=encounter.facility, connection=payer,
                                      encounter=encounter, claim_id="CLM-1",
                                      patient_name="JANE DOE", diagnosis_code="J20.9",
                                      amount="10.00")
    other = Encounter.objects.create(facility=lakeside, account_number="LK-1",
                                     patient_first_name="RICHARD", patient_last_name="ROE")
    event = record_event(None, "change", claim, user=alice, facility=lakeside,
                         object_type="payer.claim-number", object_id="CLM-1")
    assert (event.object_type, event.object_id) == ("payer.claim-number", "CLM-1")
    assert (event.facility, event.encounter) == (lakeside, encounter)
    event = record_event(None, "change", claim, user=alice, encounter=other)
    assert (event.facility, event.encounter) == (encounter.facility, other)


def test_recording_a_view_or_export_marks_the_request_as_read(rf: Any, alice: Any) -> None:
    """PhiAccessMiddleware reads the mark and adds no second row for the page."""
    reads = {}
    for action in ("view", "export", "change"):
        request = rf.get("/")
        request.user = alice
        record_event(request, action)
        reads[action] = getattr(request, "_audit_read_recorded", None)
    assert reads == {"view": True, "export": True, "change": None}


def test_a_ticket_without_an_encounter_is_recorded_with_its_facility(alice: Any, st_marys: Any,
                                                                     integrex: Any) -> None:
    from revcycle.models import Ticket

    ticket = Ticket.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                   request={"accountNumber": "A1"}, patient_name="DOE, JANE")
    event = record_event(None, "view", ticket, user=alice)
    assert (event.facility, event.encounter) == (st_marys, None)


def test_a_note_on_an_encounter_is_recorded_with_the_encounters_facility(
        alice: Any, encounter: Any) -> None:
    """A follow-up note names its encounter but no facility."""
    from followup.models import Note

    note = Note.objects.create(encounter=encounter, author=alice, text="called the payer")
    event = record_event(None, "view", note, user=alice)
    assert (event.facility, event.encounter) == (encounter.facility, encounter)


def test_a_service_line_is_recorded_with_its_tickets_facility_and_encounter(
        alice: Any, encounter: Any, integrex: Any) -> None:
    """Two links up: the service line's result, then the result's ticket."""
    from claims.models import ClaimStatusResult, ServiceLine
    from revcycle.models import Ticket

    ticket = Ticket.objects.create(kind="claim_status", facility=encounter.facility,
                                   connection=integrex, encounter=encounter,
                                   request={"accountNumber": "A1"})
    line = ServiceLine.objects.create(result=ClaimStatusResult.objects.create(ticket=ticket),
                                      position=1)
    event = record_event(None, "view", line, user=alice)
    assert (event.facility, event.encounter) == (encounter.facility, encounter)
    assert (event.object_type, event.object_id) == ("claims.serviceline", str(line.pk))


def test_a_change_to_a_record_about_no_patient_names_no_facility_or_encounter(
        ada: Any, integrex: Any) -> None:
    event = record_event(None, "change", integrex, user=ada)
    assert (event.facility, event.encounter) == (None, None)
    assert (event.object_type, event.username) == ("revcycle.connection", "ada")
