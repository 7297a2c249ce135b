"""A claim with an excluded procedure goes under review at the sandbox payer; the payer's
signed webhook approves it, and the open claim page shows the approval without a reload.

It runs under both sandbox profiles. Under the strict one the payer signs its webhooks over
the raw body only and follows the approval with a payment_processed event, so the claim
ends paid; and with a fault the payer stores the claim and drops the connection, so the
claim stops as "outcome unknown", sent once, never re-sent. Waits are on conditions; the
sandbox's delays are set short and explicit in PROFILES, and the page's 30 s poll of a claim
under review is brought forward on the browser's clock (Playwright's), not waited out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from payer.models import ClaimEvent, PayerClaim, WebhookDelivery
from revcycle.models import Connection
from revcycle.polling import SLOW

SCREENS = Path(__file__).resolve().parents[2] / "var" / "screens"
SECRET = "e2e-webhook-secret"
PROFILES = {
    # The review lasts 4 s; webhook retries start 1 s apart.
    "standard": {"SANDBOX_PROFILE": "standard", "SANDBOX_REVIEW_DELAY": 4},
    "strict": {"SANDBOX_PROFILE": "strict", "SANDBOX_REVIEW_DELAY": 4},
    "strict, drop": {"SANDBOX_PROFILE": "strict", "SANDBOX_REVIEW_DELAY": 4,
                     "SANDBOX_CLAIM_FAULT": "drop", "SANDBOX_HANG_SECONDS": 0},
}


@pytest.fixture(params=PROFILES.values(), ids=PROFILES.keys())
def profile(request: Any, settings: Any, transactional_db: Any) -> Iterator[str]:
    """The sandbox profile, with the payer's webhook sender thread on in the live server;
    the thread is stopped before the test's tables are emptied, so it outlives nothing."""
    from sandbox.webhooks import stop_worker

    for name, value in request.param.items():
        setattr(settings, name, value)
    settings.SANDBOX_WEBHOOK_BACKOFF = 1
    settings.SANDBOX_WEBHOOK_WORKER = True
    yield str(request.node.callspec.id)
    settings.SANDBOX_WEBHOOK_WORKER = False  # a late request of the engine starts no new one
    stop_worker()


def wait_until(condition: Callable[[], bool], seconds: float, why: str) -> None:
    """Wait on a condition (a database row), checking every 0.2 s (the worker's rounds
    are 1 s apart), up to `seconds`."""
    deadline = time.monotonic() + seconds
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {why}"
        tick.wait(0.2)


@pytest.mark.e2e
def test_an_excluded_procedure_is_approved_by_the_payers_webhook_while_the_page_is_open(
    transactional_db, live_server, sandbox_url, engine_worker, page, login, alice, st_marys,
    encounter, profile,
):
    from sandbox.models import PayerClaim as StoredAtPayer
    from sandbox.payer import register_webhook

    connection = Connection.objects.create(
        kind="payer", name="HCMS sandbox", base_url=f"{sandbox_url}/payer/api",
        api_key="sandbox-key", provider_id="PROV-E2E", webhook_secret=SECRET,
        poll_interval_seconds=30,
    )
    connection.facilities.add(st_marys)
    register_webhook(
        "PROV-E2E", f"{live_server.url}/claims/payer/webhooks/{connection.pk}/", SECRET
    )
    SCREENS.mkdir(parents=True, exist_ok=True)
    shot = profile.replace(", ", "-")
    # The browser's timers run on Playwright's clock (real time until moved), so that the
    # page's next poll can be brought forward below.
    page.clock.install()

    login(alice)
    page.goto("/claims/payer/new/?account=ACC1001")
    assert page.input_value("#id_patient_name") == "JANE DOE"
    page.fill("#id_insurance_id", "BC-789-456")
    page.fill("#id_diagnosis_code", "s72.001a")
    page.fill("#id_procedure_code", "15776")
    page.locator("#diagnosis_code-desc").get_by_text("S72.001A:").wait_for()
    page.locator("#procedure_code-desc").get_by_text("15776:").wait_for()
    page.fill("#id_amount", "5000.00")
    page.screenshot(path=str(SCREENS / f"payer-form-{shot}.png"), full_page=True)
    page.click("button:has-text('Send claim to payer')")
    page.wait_for_url("**/claims/payer/*/")

    if profile == "strict, drop":
        # The payer stored the claim and dropped the connection: sent once, never again.
        # 20 s: one engine round trip on a loaded machine.
        page.locator("#claim-status", has_text="Outcome unknown").wait_for(timeout=20_000)
        assert StoredAtPayer.objects.count() == 1
        assert PayerClaim.objects.get().status == "unknown"
        page.screenshot(path=str(SCREENS / f"payer-unknown-{shot}.png"), full_page=True)
        return

    # 20 s: the engine's first step after the form, on a loaded machine.
    page.locator("#claim-status", has_text="Under review").wait_for(timeout=20_000)
    page.evaluate("window.__sameDocument = true")
    assert page.get_by_text(
        "Procedure not covered under patient's current plan", exact=True
    ).is_visible()
    page.screenshot(path=str(SCREENS / f"payer-under-review-{shot}.png"), full_page=True)

    # The payer's webhook reaches the app after the 4 s review and the sender's 1 s round;
    # 30 s leaves room for a loaded machine.
    wait_until(lambda: ClaimEvent.objects.filter(
        status="approved", source=ClaimEvent.Source.WEBHOOK).exists(), 30,
        "the approval webhook")
    # The page polls a claim under review every SLOW (30) s (revcycle/polling.py): move the
    # browser's clock to that poll rather than wait it out. The wait that follows is the
    # poll's round trip, within the context's 20 s default.
    page.clock.fast_forward(SLOW * 1000)
    page.locator("#claim-status", has_text="Approved").or_(
        page.locator("#claim-status", has_text="Paid")).wait_for()
    assert page.evaluate("window.__sameDocument === true")  # no reload
    claim = PayerClaim.objects.get()
    assert claim.events.filter(status="approved", source=ClaimEvent.Source.WEBHOOK).exists()
    assert str(claim.approved_amount) == "4000.00"
    assert claim.payment_method == "ACH"
    page.screenshot(path=str(SCREENS / f"payer-approved-{shot}.png"), full_page=True)

    if profile == "strict":
        # The payment event follows the approval within a worker round or two; 30 s is
        # room for a loaded machine.
        wait_until(lambda: PayerClaim.objects.filter(status="paid").exists(), 30,
                   "the payment_processed webhook")
        page.reload()
        assert page.locator("#claim-status").inner_text() == "Paid"
        assert page.locator("#paid-amount").inner_text() == "$4,000.00"
        signed = set(WebhookDelivery.objects.filter(outcome="accepted")
                     .values_list("signed_by", flat=True))
        assert signed == {"header"}  # over the raw body, no timestamp
        assert WebhookDelivery.objects.filter(outcome="accepted", claim=claim).count() == 2
    else:
        assert WebhookDelivery.objects.filter(outcome="accepted", claim=claim).count() == 1
        assert set(WebhookDelivery.objects.values_list("signed_by", flat=True)) == {"header-ts"}

    page.goto("/claims/payer/")
    page.get_by_text(claim.reference).wait_for()
    page.screenshot(path=str(SCREENS / f"payer-list-{shot}.png"), full_page=True)
