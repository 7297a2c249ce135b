"""Follow-up end to end: a denied claim on the worklist, worked by a biller, re-checked by
the engine, and the dashboard read at a glance."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from revcycle import engine
from revcycle.models import Connection, Encounter, OAuthToken, Ticket
from tests.followup.conftest import make_ticket

# Roles and code descriptions come back after each flush (revcycle/signals.py).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def sandbox_integrex(transactional_db: Any, st_marys: Any, sandbox_url: str, settings: Any,
                     monkeypatch: Any) -> Connection:
    """An Integrex connection to the sandbox (as tests/e2e/test_claim_status.py sets it up)."""
    from sandbox.credentials import integrex_client
    from sandbox.models import SandboxToken
    from sandbox.tokens import issue_token

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    settings.SANDBOX_READY_AFTER = 1.0
    client_id, secret = integrex_client()
    connection = Connection.objects.create(
        kind="integrex", name="Integrex sandbox", base_url=f"{sandbox_url}/integrex/api/v2",
        client_id=client_id, client_secret=secret, poll_interval_seconds=1)
    connection.facilities.add(st_marys)
    # A token up front: fetching one here would hold SQLite's write lock while the
    # in-process sandbox stores the token it issues.
    token = issue_token(SandboxToken.Service.INTEGREX, client_id, 3599)
    OAuthToken.objects.create(connection=connection, access_token=token.access_token,
                              expires_at=timezone.now() + timedelta(seconds=3599))
    return connection


def _denied_claim(connection: Connection, encounter: Encounter) -> Ticket:
    """A claim status ticket the sandbox answers "denied" (trackingId1 ending in 4)."""
    from claims.forms import build_request, initial_from_encounter

    cleaned = {**initial_from_encounter(encounter), "trackingId1": "ACC1001-4"}
    ticket = make_ticket(connection, encounter=encounter, amount="1250.00", age_days=3,
                         service_date=timezone.localdate() - timedelta(days=40),
                         response=[{"reasonSourceCd3": "50"}])
    Ticket.objects.filter(pk=ticket.pk).update(
        request=build_request(cleaned, encounter.facility))
    return ticket


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_biller_works_a_denied_claim_and_sees_the_timeline_grow(
        page: Any, login: Any, alice: Any, maya: Any, sandbox_integrex: Connection,
        encounter: Encounter, engine_worker: Any):
    assert "claim_status" in engine.KINDS
    ticket = _denied_claim(sandbox_integrex, encounter)
    make_ticket(sandbox_integrex, outcome="paid", account="PAID-1")
    login(alice)
    page.goto("/followup/")
    row = page.locator(f"#ticket-{ticket.pk}")
    assert "ACC1001" in row.inner_text() and "Denied" in row.inner_text()
    assert "PAID-1" not in page.content()
    _shot(page, "worklist")

    row.get_by_role("link", name="ACC1001").click()
    page.wait_for_url(f"**/followup/accounts/{encounter.pk}/")
    events_before = page.locator("#timeline li").count()
    work = page.locator(f"#ticket-{ticket.pk}")
    work.get_by_label(f"Assign ticket {ticket.pk} to").select_option(str(maya.pk))
    work.get_by_role("button", name="Assign").click()
    page.wait_for_selector(".messages >> text=assigned to")
    assert "maya" in page.locator(f"#ticket-{ticket.pk}").inner_text()

    page.fill("#note-text", "Called Aetna: resubmitting with the right modifier.")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_selector(".messages >> text=Note added")

    page.locator(f"#ticket-{ticket.pk}").get_by_role("button", name="Check again").click()
    page.wait_for_selector(".messages >> text=queued to check again")
    # The engine answers; the timeline polls every 3 s while the lookup is open. 30 s: the
    # sandbox's 1 s before its answer, a 1 s poll interval, the page's poll, on a loaded machine.
    page.wait_for_function(
        "() => document.querySelectorAll('#timeline li .badge.denied').length >= 1 && "
        "!document.querySelector('#timeline[hx-trigger]')", timeout=30_000)
    ticket.refresh_from_db()
    assert ticket.state == "done" and ticket.outcome == "denied"
    assert ticket.claim_result.lines.exclude(reason_code3="").exists()  # the sandbox answered
    text = page.locator("#timeline").inner_text()
    assert "Called Aetna" in text and "queued again" in text
    assert page.locator("#timeline li").count() > events_before + 2
    _shot(page, "timeline")


def test_the_dashboard_renders_demo_data_and_its_numbers_match_the_tables(
        page: Any, login: Any, maya: Any, integrex: Connection, smart: Connection,
        transactional_db: Any):
    today = timezone.localdate()
    payers = ["AETNA", "CIGNA", "UHC", "HUMANA", "BCBS"]
    for i in range(40):
        make_ticket(integrex, outcome=("denied", "rejected", "not_found", "paid")[i % 4],
                    account=f"D{i:03d}", payer=payers[i % 5], amount=str(100 + 37 * i),
                    service_date=today - timedelta(days=(i * 7) % 130),
                    response=[{"reasonSourceCd3": ("50", "16", "97")[i % 3]}])
    for i in range(5):
        make_ticket(smart, kind="smart_invoice_status", outcome="cancelled", account=f"S{i}",
                    amount="250.00")
    login(maya)
    page.goto("/followup/dashboard/")
    _shot(page, "dashboard")
    for name in ("aging", "payers", "outcomes", "denials", "smart", "throughput"):
        card = page.locator(f"#chart-{name}")
        assert card.locator("svg").count() == 1, name
    aging = page.locator("#chart-aging")
    aging.locator("summary").click()
    drawn = {t.split(": ")[0]: int(t.split(": ")[1])
             for t in aging.locator("svg title").all_text_contents()}
    table = {}
    for tr in aging.locator("tbody tr").all():
        cells = tr.locator("td").all_inner_texts()
        table[cells[0]] = int(cells[1])
    assert drawn == table
    expected = Ticket.objects.exclude(outcome__in=["paid"]).count()
    assert sum(table.values()) == expected
    smart_card = page.locator("#chart-smart")
    smart_card.locator("summary").click()
    assert "KES 1,250.00" in smart_card.locator("tbody").inner_text()
    with page.expect_download() as download:
        page.locator("#chart-payers").get_by_role("link", name="Download CSV").click()
    content = Path(download.value.path()).read_text()
    rows = list(csv.reader(io.StringIO(content)))  # every cell is quoted (formula safety)
    assert rows[0] == ["Payer", "Items", "Amount (KES)", "Amount (USD)"]
    dollars = sum(Decimal(row[3]) for row in rows[1:] if row[3])
    assert dollars == sum(t.amount for t in Ticket.objects.filter(connection=integrex)
                          .exclude(outcome="paid"))
    assert sum(Decimal(row[2]) for row in rows[1:] if row[2]) == Decimal("1250.00")
    assert re.search(r"AETNA", content)
