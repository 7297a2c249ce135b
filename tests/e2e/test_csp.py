"""Content Security Policy in the browser: every page a biller, a manager and an admin can
open loads under the enforced policy (settings.CONTENT_SECURITY_POLICY) without a single
violation, so no inline script or style is left anywhere (the admin's own pages included)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from revcycle.models import Batch, Connection, Encounter, Ticket
from smartlink.models import SmartBenefit, SmartInvoice, SmartMember, SmartSession
from tests.followup.conftest import make_ticket
from tests.payer.helpers import queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Records every violation the browser reports to the page; the console catches the rest.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
                    " at " + (e.sourceFile || "?") + ":" + e.lineNumber);
});
"""


@pytest.fixture
def records(transactional_db: Any, alice: Any, encounter: Encounter, integrex: Connection,
            smart: Connection, payer: Connection, st_marys: Any) -> dict[str, Any]:
    """One of everything a page shows: a claim status ticket in a half-done batch, a
    discovery lookup, a payer claim, an active Smart visit with an invoice."""
    claim = make_ticket(integrex, encounter=encounter, amount="1250.00")
    waiting = make_ticket(integrex, encounter=encounter, state="queued", outcome="")
    batch = Batch.objects.create(kind="claim_status", facility=st_marys, connection=integrex,
                                 created_by=alice, filename="claims.csv", total_rows=2,
                                 ticket_count=2)
    Ticket.objects.filter(pk__in=[claim.pk, waiting.pk]).update(batch=batch)
    lookup = make_ticket(integrex, kind="discovery", encounter=encounter, outcome="")
    payer_claim = queue(payer, encounter, alice)
    visit = SmartSession.objects.create(
        connection=smart, facility=st_marys, session_id="62863", patient_number="23025764",
        status=SmartSession.Status.ACTIVE, visit_number="AKHILS001",
        opened_at=timezone.now() - timedelta(hours=2),
        expires_at=timezone.now() + timedelta(hours=22))
    member = SmartMember.objects.create(session=visit, member_number="SAMPLETEST502",
                                        first_name="AMINA", last_name="OTIENO",
                                        scheme="KCB STAFF MEDICAL SCHEME", insurer="BRITAM")
    benefit = SmartBenefit.objects.create(member=member, benefit_id="93181", name="OUTPATIENT",
                                          limit=Decimal("100000"), balance=Decimal("5000.00"))
    invoice = SmartInvoice.objects.create(
        connection=smart, facility=st_marys, session=visit, invoice_number="INV1500835",
        visit_number=visit.visit_number, patient_number=visit.patient_number,
        smart_benefit=benefit, benefit_id=benefit.benefit_id, total_amount=Decimal("1500"),
        lines=[{"code": "CONS01", "description": "Consultation", "quantity": "1",
                "unit_price": "1500"}],
        status=SmartInvoice.Status.PENDING)
    return {"claim": claim, "batch": batch, "lookup": lookup, "payer_claim": payer_claim,
            "visit": visit, "invoice": invoice, "encounter": encounter, "integrex": integrex}


def biller_pages(r: dict[str, Any]) -> list[str]:
    return [
        "/", "/encounters/", f"/encounters/{r['encounter'].pk}/",
        "/claims/", "/claims/status/new/", f"/claims/status/{r['claim'].pk}/",
        "/claims/status/batches/", f"/claims/status/batches/{r['batch'].pk}/",
        "/claims/status/batches/upload/",
        "/eligibility/", "/eligibility/new/", f"/eligibility/lookups/{r['lookup'].pk}/",
        "/eligibility/batches/",
        "/claims/payer/", "/claims/payer/new/", f"/claims/payer/{r['payer_claim'].pk}/",
        "/claims/payer/batches/",
        "/smart/", f"/smart/sessions/{r['visit'].pk}/", f"/smart/invoices/{r['invoice'].pk}/",
        "/smart/not-billed/",
        "/followup/", "/followup/dashboard/", f"/followup/accounts/{r['encounter'].pk}/",
        "/followup/settings/",
    ]


def manager_pages(r: dict[str, Any]) -> list[str]:
    return ["/", "/followup/", "/followup/dashboard/", "/audit/",
            "/claims/"]


def admin_pages(r: dict[str, Any]) -> list[str]:
    return ["/", "/audit/", "/followup/rechecks/", "/admin/", "/admin/revcycle/connection/",
            f"/admin/revcycle/connection/{r['integrex'].pk}/change/",
            "/admin/revcycle/encounter/", f"/admin/revcycle/encounter/{r['encounter'].pk}/change/",
            "/admin/auth/user/add/"]


def _visit_all(page: Any, paths: list[str]) -> list[str]:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text else None)
    found: list[str] = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
        page.wait_for_load_state("load")
        # One animation frame after load: violations are reported as events, not thrown.
        found += [f"{path}: {v}" for v in page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => r(window.__csp)))")]
    return found + console


@pytest.mark.parametrize(("role", "pages"), [
    ("alice", biller_pages), ("maya", manager_pages), ("ada", admin_pages)])
def test_no_page_breaks_the_content_security_policy(request, page, login, records, role, pages):
    user = request.getfixturevalue(role)
    page.context.add_init_script(RECORD_VIOLATIONS)
    login(user)
    assert _visit_all(page, pages(records)) == []


def test_the_scripts_moved_out_of_templates_still_work(page, login, alice, records):
    """The bar widths (once style="" attributes) and select-all (once onclick) run from
    static/js/app.js under the policy."""
    page.context.add_init_script(RECORD_VIOLATIONS)
    login(alice)
    page.goto(f"/claims/status/batches/{records['batch'].pk}/")
    assert page.locator(".progress .p-done").evaluate("e => e.style.width") == "50%"
    page.goto("/claims/")
    boxes = page.locator("input[name=ids]")
    assert boxes.count() >= 1 and not boxes.first.is_checked()
    page.locator("input[data-select-all]").check()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert page.evaluate("() => window.__csp") == []
