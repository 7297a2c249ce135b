"""Money at risk: the background check, the not-billed list and its export."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import responses
from django.utils import timezone

from revcycle import schedules
from revcycle.models import AuditEvent, Ticket
from smartlink import flow, tasks
from smartlink.models import SmartInvoice, SmartSession
from tests.smartlink.conftest import BASE, run_due


def _posted(active_session, alice, hours_ago, status="pending"):
    benefit = active_session.member.benefits.get(benefit_id="93181")
    invoice = flow.create_invoice(
        session=active_session, benefit=benefit, invoice_number=f"INV{hours_ago}",
        lines=[{"code": "C", "description": "Consultation", "quantity": "1",
                "unitPrice": "1500.00", "amount": "1500.00"}],
        diagnoses=[{"code": "J06.9", "description": ""}], copay_amount=Decimal("200"),
        copay_from_smart=False, user=alice)
    SmartInvoice.objects.filter(pk=invoice.pk).update(
        status=status, posted_at=timezone.now() - timedelta(hours=hours_ago))
    Ticket.objects.filter(pk=invoice.ticket_id).update(state="submitted")
    return invoice


def test_an_invoice_not_billed_after_24_hours_is_on_the_list_with_the_amount_at_risk(
        client_for, alice, active_session):
    late = _posted(active_session, alice, hours_ago=25)
    _posted(active_session, alice, hours_ago=2)
    _posted(active_session, alice, hours_ago=30, status="billed")

    assert list(SmartInvoice.objects.not_billed()) == [late]
    page = client_for(alice).get("/smart/not-billed/")
    assert b"INV25" in page.content and b"INV2<" not in page.content
    assert b"1,300.00" in page.content
    assert b"1,300.00" in client_for(alice).get("/smart/").content


def test_the_hours_come_from_the_setting(settings, active_session, alice):
    _posted(active_session, alice, hours_ago=3)
    settings.SMART_NOT_BILLED_HOURS = 2
    assert SmartInvoice.objects.not_billed().count() == 1


def test_a_billing_officer_records_the_reason_and_the_export_carries_it(
        client_for, alice, bob, active_session):
    late = _posted(active_session, alice, hours_ago=25)
    client_for(alice).post(f"/smart/invoices/{late.pk}/reason/",
                           {"reason": "Retrieved in Smart portal; awaiting insurer"})

    response = client_for(alice).get("/smart/not-billed.csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["invoice_number"], r["amount_at_risk"], r["recorded_by"]) for r in rows] == [
        ("INV25", "1300.00", "alice")]
    assert rows[0]["reason_or_action"] == "Retrieved in Smart portal; awaiting insurer"
    assert AuditEvent.objects.filter(action="export", username="alice").exists()
    assert late.events.filter(action="reason recorded", user=alice).exists()
    bob_rows = b"".join(client_for(bob).get("/smart/not-billed.csv").streaming_content)
    assert b"INV25" not in bob_rows


def test_the_background_check_rechecks_invoices_whose_ticket_stopped(
        api, active_session, alice, monkeypatch):
    monkeypatch.setattr("revcycle.engine.kick", lambda: None)
    invoice = _posted(active_session, alice, hours_ago=30)
    Ticket.objects.filter(pk=invoice.ticket_id).update(state="expired", attempts=1)
    api.add(responses.GET, f"{BASE}/api/claim-status", json={"status": "Billed"})
    api.add(responses.POST, f"{BASE}/api/claims", json={})

    assert tasks.check_open_invoices() == {"requeued": 1, "sessions_expired": 0}
    run_due()

    invoice.refresh_from_db()
    assert invoice.status == "billed"
    assert [c.request.method for c in api.calls if "/api/" in c.request.url] == ["GET"]
    assert schedules.SCHEDULES["smart: re-check invoices not billed"].func == \
        "smartlink.tasks.check_open_invoices"


def test_pending_sessions_past_24_hours_are_recorded_as_expired(session):
    SmartSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))

    assert tasks.check_open_invoices()["sessions_expired"] == 1

    session.refresh_from_db()
    assert session.status == "EXPIRED" and session.events.filter(action="expired").exists()


def test_the_background_check_counts_every_invoice_it_requeues(active_session, alice,
                                                               monkeypatch):
    monkeypatch.setattr("revcycle.engine.kick", lambda: None)
    for hours in (30, 40):
        invoice = _posted(active_session, alice, hours_ago=hours)
        Ticket.objects.filter(pk=invoice.ticket_id).update(state="expired", attempts=1)

    assert flow.requeue_open() == 2
    assert Ticket.objects.filter(state="queued").count() == 2


def test_a_session_is_expired_at_the_moment_asked_about(session):
    SmartSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() + timedelta(hours=1))

    assert flow.expire_lapsed_sessions(timezone.now()) == 0
    assert flow.expire_lapsed_sessions(timezone.now() + timedelta(hours=2)) == 1
    session.refresh_from_db()
    assert session.status == "EXPIRED"


def test_the_amount_at_risk_is_the_totals_less_the_copays_to_the_cent(active_session, alice):
    assert str(flow.amount_at_risk(SmartInvoice.objects.all())) == "0.00"
    _posted(active_session, alice, hours_ago=25)
    late = _posted(active_session, alice, hours_ago=26)
    SmartInvoice.objects.filter(pk=late.pk).update(total_amount=Decimal("1000.50"),
                                                   copay_amount=Decimal("0.25"))

    total = flow.amount_at_risk(SmartInvoice.objects.all())

    assert total == Decimal("2300.25") and str(total) == "2300.25"
    assert str(flow.amount_at_risk(SmartInvoice.objects.filter(pk=late.pk))) == "1000.25"
