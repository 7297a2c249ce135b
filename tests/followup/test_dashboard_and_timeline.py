from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import dashboard
from followup.models import Note
from revcycle.models import AuditEvent, CodeDescription
from tests.conftest import POLL
from tests.followup.conftest import make_ticket

pytestmark = pytest.mark.django_db


def test_the_aging_chart_counts_and_sums_worklist_items_by_bucket(alice, integrex):
    today = timezone.localdate()
    make_ticket(integrex, service_date=today - timedelta(days=10), amount="100.00")
    make_ticket(integrex, service_date=today - timedelta(days=45), amount="200.00")
    make_ticket(integrex, service_date=today - timedelta(days=46), amount="50.00")
    make_ticket(integrex, service_date=today - timedelta(days=200), amount="7.00")
    make_ticket(integrex, service_date=today - timedelta(days=45), outcome="paid")
    rows = {r[0]: r[1:] for r in dashboard.charts(alice)["aging"].rows}
    assert rows["0-30"][0] == 1 and rows["31-60"] == (2, pytest.approx(250))
    assert rows["61-90"][0] == 0 and rows["90+"][0] == 1


def test_top_denial_reasons_read_carc_codes_from_the_raw_answers(alice, integrex):
    # Replace the shipped text (a second row with the same empty effective date would leave
    # which one is read to the database's row order).
    CodeDescription.objects.update_or_create(
        code_set="carc", code="50", effective_date=None,
        defaults={"description": "Not deemed a medical necessity."})
    for _ in range(3):
        make_ticket(integrex, response=[{"reasonSourceCd3": "50"}, {"reasonSourceCd3": "50"}])
    make_ticket(integrex, response={"reasonSourceCd3": "16"})
    rows = dashboard.charts(alice)["denials"].rows
    assert rows[0][:2] == ("50", 3)
    assert "medical necessity" in rows[0][2]
    assert rows[1][:2] == ("16", 1)


def test_money_at_risk_sums_smart_invoices_not_billed(alice, smart):
    make_ticket(smart, kind="smart_invoice_status", outcome="cancelled", amount="300.00")
    make_ticket(smart, kind="smart_invoice_status", outcome="billed", amount="999.00")
    chart = dashboard.charts(alice)["smart"]
    assert chart.columns == ("Invoice status", "Invoices", "Amount (KES)")
    assert chart.rows == [("Cancelled", 1, pytest.approx(300))]
    assert chart.cells == [["Cancelled", 1, "KES 300.00"]]


def test_the_dashboard_draws_every_chart_with_its_table(client_for, alice, integrex):
    make_ticket(integrex, payer="CIGNA", amount="123.45")
    body = client_for(alice).get(reverse("followup:dashboard")).content.decode()
    for name in ("aging", "payers", "outcomes", "denials", "smart", "throughput"):
        assert f'id="chart-{name}"' in body
    assert "<svg" in body and "CIGNA" in body and "123.45" in body
    assert 'id="connections"' not in body  # admins only


def test_a_chart_exports_as_csv_and_the_export_is_audited(client_for, alice, integrex):
    make_ticket(integrex, payer="CIGNA", amount="123.45")
    response = client_for(alice).get(reverse("followup:dashboard_csv", args=["payers"]))
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == '"Payer","Items","Amount (USD)"'
    assert '"CIGNA","1","123.45"' in text
    assert AuditEvent.objects.filter(action="export", object_id="payers").exists()


def _csv(client, name):
    import csv
    import io

    response = client.get(reverse("followup:dashboard_csv", args=[name]))
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_every_amount_on_the_dashboard_is_per_currency_never_summed_across(
        client_for, alice, integrex, smart):
    today = timezone.localdate()
    make_ticket(integrex, payer="AETNA", amount="1250.00", service_date=today)
    make_ticket(smart, kind="smart_invoice_status", outcome="cancelled", payer="AETNA",
                amount="13000.00", service_date=today)
    charts = dashboard.charts(alice)
    assert charts["outcomes"].cells == [["Cancelled", 1, "KES 13,000.00", ""],
                                        ["Denied", 1, "", "$1,250.00"]]
    assert charts["payers"].cells == [["AETNA", 2, "KES 13,000.00", "$1,250.00"]]
    assert [bar["value"] for bar in charts["payers"].bars] == [2]  # a count, not a sum
    assert charts["aging"].cells[0] == ["0-30", 2, "KES 13,000.00", "$1,250.00"]
    client = client_for(alice)
    body = client.get(reverse("followup:dashboard")).content.decode()
    assert '<td class="num money">KES 13,000.00</td><td class="num money">$1,250.00</td>' in body
    assert "14,250" not in body  # no sum of shillings and dollars
    for name in ("payers", "aging", "outcomes"):
        rows = _csv(client, name)
        assert rows[0][-2:] == ["Amount (KES)", "Amount (USD)"], name
        assert "14250.00" not in {cell for row in rows for cell in row}, name
    assert _csv(client, "payers")[1] == ["AETNA", "2", "13000.00", "1250.00"]


def test_more_payers_than_shown_are_summed_per_currency(alice, integrex, smart):
    for i in range(dashboard.TOP_PAYERS):
        make_ticket(integrex, payer=f"P{i:02d}", amount="1.00")
        make_ticket(integrex, payer=f"P{i:02d}", amount="1.00")
    make_ticket(integrex, payer="ZZ1", amount="5.00")
    make_ticket(smart, kind="smart_invoice_status", outcome="cancelled", payer="ZZ2",
                amount="7.00")
    rows = dashboard.charts(alice)["payers"].cells
    assert rows[-1] == ["2 other payers", 2, "KES 7.00", "$5.00"]


def test_the_timeline_shows_lookups_results_changes_and_notes_in_order(
        client_for, alice, integrex, encounter):
    ticket = make_ticket(integrex, encounter=encounter, age_days=2, finished_days_ago=1)
    Note.objects.create(encounter=encounter, ticket=ticket, author=alice, text="Call the payer")
    client = client_for(alice)
    client.post(reverse("followup:act"), {"ticket": ticket.pk, "action": "resolve",
                                          "reason": "appealed"})
    response = client.get(reverse("followup:account", args=[encounter.pk]))
    texts = [e.text for e in response.context["events"]]
    assert texts[-1].startswith("Claim status (Integrex) requested")
    assert any("Denied" in t for t in texts)
    assert "Call the payer" in texts
    assert any("resolved" in t for t in texts)
    assert AuditEvent.objects.filter(action="view", encounter=encounter).count() == 1
    assert 'hx-trigger="every 2s"' not in response.content.decode()


def test_the_timeline_polls_while_a_lookup_is_open_and_polls_are_not_audited(
        client_for, alice, integrex, encounter):
    make_ticket(integrex, encounter=encounter, state="processing", outcome="")
    client = client_for(alice)
    page = client.get(reverse("followup:account", args=[encounter.pk]))
    assert 'hx-trigger="every 2s"' in page.content.decode()
    client.get(reverse("followup:account", args=[encounter.pk]), **POLL)
    assert AuditEvent.objects.filter(action="view", encounter=encounter).count() == 1


def test_another_facilitys_account_timeline_is_404(client_for, bob, encounter):
    response = client_for(bob).get(reverse("followup:account", args=[encounter.pk]))
    assert response.status_code == 404


def test_the_timeline_shows_payer_webhooks(client_for, alice, payer, encounter):
    from payer.models import ClaimEvent, PayerClaim

    claim = PayerClaim.objects.create(facility=encounter.facility, connection=payer,
                                      encounter=encounter, diagnosis_code="E11.9",
                                      amount="80.00", status="approved")
    ClaimEvent.objects.create(claim=claim, status="approved", source="webhook",
                              message="Approved by reviewer")
    response = client_for(alice).get(reverse("followup:account", args=[encounter.pk]))
    webhook = [e for e in response.context["events"] if e.kind == "webhook"]
    assert webhook and "Approved by reviewer" in webhook[0].text


def test_top_denial_reasons_come_from_stored_service_lines_when_claims_has_them(alice,
                                                                               integrex):
    from claims.models import ClaimStatusResult, ServiceLine

    for code in ("96", "96", "197"):
        ticket = make_ticket(integrex, response=None)
        result = ClaimStatusResult.objects.create(ticket=ticket, category_code="F2")
        ServiceLine.objects.create(result=result, position=1, reason_code3=code)
        ServiceLine.objects.create(result=result, position=2, reason_code3=code)
    rows = dashboard.charts(alice)["denials"].rows
    assert [r[:2] for r in rows] == [("96", 2), ("197", 1)]
