"""The README's screenshots (docs/screenshots/*.png), taken the way the browser tests run:
the app and its sandbox served over real HTTP, the ticket engine pumping, Debian's
Chromium. The demo is set up as `make demo` sets it up (manage.py demo_setup), then a
biller's day is played through the screens: the demo batch files uploaded, the Smart desk
searched, payer claims submitted; each main screen is saved at 1280x800.

Run it with `make screenshots`; `make test` leaves it out (its name is no test_*.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from revcycle.models import Connection, Facility, Ticket
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # The viewport only (small files), unless what the screen is for lies below it.
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)


@pytest.fixture
def demo(live_server: Any, settings: Any, monkeypatch: Any) -> dict[str, User]:
    """`manage.py demo_setup` against the live server, with quick sandbox answers and
    known passwords for the demo users."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server speaks http
    settings.SANDBOX_READY_AFTER = 1.0
    # The engine polls the payer sandbox; its webhook thread would outlive the test.
    settings.SANDBOX_WEBHOOK_WORKER = False
    port = int(live_server.url.rsplit(":", 1)[1])
    call_command("demo_setup", port=port, stdout=io.StringIO())
    Connection.objects.update(poll_interval_seconds=1)
    users = {}
    for name in ("biller", "manager", "admin"):
        user = User.objects.get(username=name)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        users[name] = user
    return users


def upload(page: Any, url: str, path: Path) -> None:
    """A batch file uploaded as a biller does, then followed to its end."""
    page.goto(url)
    page.set_input_files("input[name=file]", str(path))
    page.click("button[type=submit]")
    page.wait_for_url("**/batches/*/")
    # 60 s: every row of a demo file answered 1 s after its POST (SANDBOX_READY_AFTER) on
    # the engine's threads, then the page's poll, with room for a loaded machine.
    page.wait_for_selector("[data-testid=batch-finished]", timeout=60_000)


def submit_payer_claims(facility: Facility, user: User) -> None:
    from payer import flow as payer_flow
    from revcycle.models import Encounter
    from sandbox.demo_data import DEMO_PATIENTS, payer_claim

    connection = Connection.objects.get(kind="payer")
    for n, patient in enumerate(DEMO_PATIENTS[:6]):
        payer_flow.create_claim(
            reference=f"RC-DEMO{n:04d}", facility=facility, connection=connection,
            encounter=Encounter.objects.get(account_number=patient["account_number"]),
            body=payer_claim(patient, connection.provider_id), user=user)


def post_smart_invoice(page: Any, patient_number: str, visit_number: str) -> None:
    """Find the patient's session at the desk, activate it, post an invoice."""
    page.goto("/smart/")
    page.fill("#id_patient_number", patient_number)
    page.click("text=Find sessions")
    row = page.locator("#sessions .session-row").first
    row.locator("input[name=visit_number]").fill(visit_number)
    row.locator("text=Activate").click()
    page.wait_for_url("**/smart/sessions/*/")
    outpatient = page.locator("#id_benefit option", has_text="OUTPATIENT").get_attribute("value")
    page.select_option("#id_benefit", outpatient)
    if page.locator("#id_copay_amount").count():  # a facility that sets its own co-pay
        page.fill("#id_copay_amount", "200")
    page.fill("#id_invoice_number", "INV1500835")
    for n, (code, description, quantity, price) in enumerate(
            [("CONS01", "Consultation", "1", "1500"), ("LAB22", "Full blood count", "2", "750")]):
        page.fill(f"#id_lines-{n}-code", code)
        page.fill(f"#id_lines-{n}-description", description)
        page.fill(f"#id_lines-{n}-quantity", quantity)
        page.fill(f"#id_lines-{n}-unit_price", price)
    page.fill("#id_dx-0-code", "J06.9")
    page.locator("#id_dx-0-code").blur()
    page.click("text=Post invoice to Smart")
    page.wait_for_url("**/smart/invoices/*/")


def test_the_main_screens(page: Any, login: Any, demo: dict[str, User],
                          engine_worker: Any) -> None:
    from django.conf import settings

    page.set_viewport_size(VIEWPORT)
    biller = demo["biller"]
    facility = Facility.objects.get(npi="1083052872")
    submit_payer_claims(facility, biller)
    folder = Path(settings.VAR_DIR) / "demo"
    login(biller)

    upload(page, "/claims/status/batches/upload/", folder / "claim-status-demo.csv")
    page.goto("/")
    shot(page, "home")
    page.goto("/claims/")
    shot(page, "claim-status-worklist")
    denied = Ticket.objects.filter(kind="claim_status", outcome="denied").first()
    assert denied is not None, "the demo batch has a denied claim"
    page.goto(f"/claims/status/{denied.pk}/")
    page.locator("text=CARC").first.wait_for()
    shot(page, "claim-result", full_page=True)

    upload(page, "/eligibility/batches/upload/", folder / "discovery-demo.csv")
    page.goto("/eligibility/")
    shot(page, "discovery-results")

    page.goto("/claims/payer/")
    shot(page, "payer-claims")
    page.goto("/followup/")
    shot(page, "followup-worklist")

    page.context.clear_cookies()
    login(demo["manager"])
    page.goto("/followup/dashboard/")
    page.locator("#chart-outcomes svg").wait_for()
    shot(page, "dashboard")

    page.context.clear_cookies()
    login(demo["admin"])  # activating a Smart session is an admin's
    post_smart_invoice(page, "23025765", "OP-2026-0042")
    page.goto("/smart/")
    page.fill("#id_patient_number", "23025764")
    page.click("text=Find sessions")
    page.locator("#sessions .session-row").first.wait_for()
    shot(page, "smart-desk")
    assert sorted(p.stem for p in OUT.glob("*.png")) == sorted(SCREENS)


SCREENS = ["home", "claim-status-worklist", "claim-result", "discovery-results", "smart-desk",
           "payer-claims", "followup-worklist", "dashboard"]
