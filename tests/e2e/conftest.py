"""End-to-end fixtures: the app and its sandbox served over real HTTP (pytest-django's
live server), the ticket engine pumping in a background thread as a worker would, and
Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from revcycle.models import Batch, Connection, Encounter, Ticket
from smartlink.models import SmartBenefit, SmartInvoice, SmartMember, SmartSession
from tests.conftest import PASSWORD, totp_now
from tests.followup.conftest import make_ticket
from tests.payer.helpers import queue

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    # Every Playwright wait is on a condition (a selector, a URL, a locator); this bounds how
    # long one may take before it fails: a page and its first poll on a loaded machine.
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page: Any) -> Any:
    """Sign a user in through the real login form, and the second factor for the roles that
    need one: the code their authenticator app would show, typed into the form."""
    from revcycle import twofactor

    def sign_in(user: Any) -> Any:
        needs_code = twofactor.required(user)
        code = totp_now(user) if needs_code else ""
        page.goto("/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        if needs_code:
            page.fill("#id_token", code)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/two-factor/" not in url)
        return page

    return sign_in


@pytest.fixture
def sandbox_url(live_server: Any) -> str:
    return f"{live_server.url}/sandbox"


@pytest.fixture
def engine_worker(transactional_db: Any) -> Iterator[threading.Event]:
    """The ticket engine pumping as a worker would, until the test ends."""
    from django.db import connections

    from revcycle import engine

    stop = threading.Event()

    def run() -> None:
        try:
            engine.pump(3600, stop=stop.is_set, threads=8)
        finally:
            # The pump's own connection (its workers close theirs), as the engine process's
            # exit would: left open, each test's stayed until the test database was dropped.
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield stop
    stop.set()
    # The steps in flight finish first, each bounded by the HTTP timeouts (engine._Workers).
    thread.join(timeout=40)


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
