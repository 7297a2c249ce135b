"""A claim with an excluded procedure goes under review at the sandbox payer; the payer's
signed webhook approves it, and the open claim page shows the approval without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from payer.models import ClaimEvent, PayerClaim, WebhookDelivery
from revcycle.models import Connection

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens"
SECRET = "e2e-webhook-secret"


@pytest.mark.e2e
def test_an_excluded_procedure_is_approved_by_the_payers_webhook_while_the_page_is_open(
    transactional_db,
    settings,
    live_server,
    sandbox_url,
    engine_worker,
    page,
    login,
    alice,
    st_marys,
    encounter,
):
    from sandbox.payer import register_webhook

    settings.SANDBOX_REVIEW_DELAY = 4
    settings.SANDBOX_WEBHOOK_WORKER = True
    connection = Connection.objects.create(
        kind="payer",
        name="HCMS sandbox",
        base_url=f"{sandbox_url}/payer/api",
        api_key="sandbox-key",
        provider_id="PROV-E2E",
        webhook_secret=SECRET,
        poll_interval_seconds=30,
    )
    connection.facilities.add(st_marys)
    register_webhook(
        "PROV-E2E", f"{live_server.url}/claims/payer/webhooks/{connection.pk}/", SECRET
    )
    SCREENS.mkdir(parents=True, exist_ok=True)

    login(alice)
    page.goto("/claims/payer/new/?account=ACC1001")
    assert page.input_value("#id_patient_name") == "JANE DOE"
    page.fill("#id_insurance_id", "BC-789-456")
    page.fill("#id_diagnosis_code", "s72.001a")
    page.fill("#id_procedure_code", "15776")
    page.locator("#diagnosis_code-desc").get_by_text("S72.001A:").wait_for()
    page.locator("#procedure_code-desc").get_by_text("15776:").wait_for()
    page.fill("#id_amount", "5000.00")
    page.screenshot(path=str(SCREENS / "payer-form.png"), full_page=True)
    page.click("button:has-text('Send claim to payer')")
    page.wait_for_url("**/claims/payer/*/")

    page.locator("#claim-status", has_text="Under review").wait_for(timeout=20_000)
    page.evaluate("window.__sameDocument = true")
    assert page.get_by_text(
        "Procedure not covered under patient's current plan", exact=True
    ).is_visible()
    page.screenshot(path=str(SCREENS / "payer-under-review.png"), full_page=True)

    page.locator("#claim-status", has_text="Approved").wait_for(timeout=30_000)
    assert page.evaluate("window.__sameDocument === true")  # no reload
    assert page.locator("#expected-payment").inner_text() == "4000.00"
    assert page.locator("#patient-responsibility").inner_text() == "1000.00"
    page.screenshot(path=str(SCREENS / "payer-approved.png"), full_page=True)

    claim = PayerClaim.objects.get()
    assert claim.events.filter(status="approved", source=ClaimEvent.Source.WEBHOOK).exists()
    assert WebhookDelivery.objects.filter(outcome="accepted", claim=claim).count() == 1
    assert claim.payment_method == "ACH"

    page.goto("/claims/payer/")
    page.get_by_text(claim.reference).wait_for()
    page.screenshot(path=str(SCREENS / "payer-list.png"), full_page=True)
