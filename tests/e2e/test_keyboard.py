"""Keyboard only: the follow-up worklist and the Smart desk worked with Tab, Space, Enter,
the arrow keys and typing, never a click, as someone who cannot use a mouse works them.
Each step reaches its control by pressing Tab from where the focus is (so the control is
in the tab order), and the test asserts what the step changed."""

from __future__ import annotations

from typing import Any

import pytest

from followup.models import FollowUp
from revcycle import oauth
from revcycle.models import Connection, Facility
from smartlink.models import SmartInvoice
from tests.followup.conftest import make_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FOCUSED = "s => !!document.activeElement && document.activeElement.matches(s)"


def tab_to(page: Any, selector: str, *, back: bool = False, limit: int = 120) -> None:
    """Press Tab (Shift+Tab going back) until the focus is on `selector`."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(FOCUSED, selector):
            return
    pytest.fail(f"{selector} is not reached with the keyboard ({limit} Tabs)")


def test_the_worklist_is_filtered_selected_resolved_and_opened_by_keyboard(
        page: Any, login: Any, alice: Any, integrex: Connection, encounter: Any) -> None:
    denied = make_ticket(integrex, encounter=encounter, outcome="denied", account="ACC1001")
    other = make_ticket(integrex, outcome="denied", account="ACC2002")
    rejected = make_ticket(integrex, outcome="rejected", account="ACC3003")
    login(alice)
    page.goto("/followup/")
    assert page.locator(f"#ticket-{rejected.pk}").count() == 1

    # Filters: the outcome chosen with the arrow keys, applied with Enter.
    tab_to(page, "#f-outcome")
    while page.input_value("#f-outcome") != "denied":
        page.keyboard.press("ArrowDown")
    tab_to(page, "#filters button.btn")
    page.keyboard.press("Enter")
    page.wait_for_url("**/followup/?*outcome=denied*")
    assert page.locator(f"#ticket-{rejected.pk}").count() == 0
    assert page.locator(f"#ticket-{denied.pk}").count() == 1

    # A row selected with Space, resolved from the bulk bar: type the reason, press Enter.
    tab_to(page, f"#ticket-{other.pk} input[type=checkbox]")
    page.keyboard.press("Space")
    assert page.locator(f"#ticket-{other.pk} input[type=checkbox]").is_checked()
    tab_to(page, "#bulk input[name=reason]", back=True)
    page.keyboard.type("Paid on appeal")
    page.keyboard.press("Enter")
    page.wait_for_selector(".messages >> text=resolved")
    followup = FollowUp.objects.get(ticket=other)
    assert followup.status == FollowUp.Status.RESOLVED
    assert followup.resolved_reason == "Paid on appeal"
    assert FollowUp.objects.filter(ticket=denied, status=FollowUp.Status.RESOLVED).count() == 0
    assert page.locator(f"#ticket-{other.pk}").count() == 0  # gone from the open rows

    # A row opened with Enter on its account link.
    tab_to(page, f"#ticket-{denied.pk} a[href*='/followup/accounts/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/followup/accounts/{encounter.pk}/")
    assert "ACC1001" in page.locator("main").inner_text()


@pytest.fixture
def smart_sandbox(sandbox_url: str, st_marys: Facility, monkeypatch: Any) -> Connection:
    """A Smart connection to the sandbox, as tests/e2e/test_smart.py sets it up."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server speaks http
    oauth._cache.clear()
    conn = Connection.objects.create(
        kind="smart", name="Smart sandbox", base_url=f"{sandbox_url}/smart",
        client_id="Himilo_HMIS", client_secret="smart-sandbox-secret", username="hmis",
        password="hmis-sandbox-password", poll_interval_seconds=1)
    conn.facilities.add(st_marys)
    return conn


def test_the_smart_desk_finds_activates_and_posts_an_invoice_by_keyboard(
        page: Any, login: Any, ada: Any, smart_sandbox: Connection) -> None:
    from sandbox.smart import open_session

    smart_session = open_session("23025764")
    login(ada)  # activation is an admin's
    page.goto("/smart/")

    # Find the member: type the patient file number, Enter submits the search.
    tab_to(page, "#id_patient_number")
    page.keyboard.type("23025764")
    page.keyboard.press("Enter")
    row = page.locator(f"#sessions .session-row:has-text('Session {smart_session.pk}')")
    row.wait_for()

    # Activate the visit: the visit number typed in the row, Enter activates.
    tab_to(page, "#sessions input[name=visit_number]")
    page.keyboard.type("OP-2026-0077")
    page.keyboard.press("Enter")
    page.wait_for_url("**/smart/sessions/*/")
    page.locator("#id_benefit option", has_text="OUTPATIENT").first.wait_for(state="attached")

    # The invoice: benefit chosen with the arrow keys, every field typed.
    tab_to(page, "#id_benefit")
    while "OUTPATIENT" not in page.locator("#id_benefit option:checked").inner_text():
        page.keyboard.press("ArrowDown")
    tab_to(page, "#id_invoice_number")
    page.keyboard.press("Control+A")
    page.keyboard.type("INVKB0001")
    tab_to(page, "#id_copay_amount")
    page.keyboard.type("200")
    for field, value in (("code", "CONS01"), ("description", "Consultation"),
                         ("quantity", "1"), ("unit_price", "1500")):
        tab_to(page, f"#id_lines-0-{field}")
        page.keyboard.type(value)
    tab_to(page, "#id_dx-0-code")
    page.keyboard.type("J06.9")
    assert page.inner_text("#total") == "1500.00"
    tab_to(page, "#invoice-form .actions button")
    page.keyboard.press("Enter")

    page.wait_for_url("**/smart/invoices/*/")
    page.locator("#status [data-status]").wait_for()
    invoice = SmartInvoice.objects.get()
    assert (invoice.invoice_number, invoice.visit_number) == ("INVKB0001", "OP-2026-0077")
    assert str(invoice.total_amount) == "1500.00"
    assert "INVKB0001" in page.locator("main").inner_text()
