"""Insurance discovery end to end: the app, the engine and the sandbox's Integrex over real
HTTP, in headless Chromium. The sandbox answers by the last digit of internalAccountNumber1:
0-5 one coverage, 6-7 two, 8 none, 9 one with garbled keys (sandbox/README.md)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from revcycle.models import Connection, Encounter, Facility, Ticket
from sandbox.credentials import integrex_client

# Roles and code descriptions come back after each flush (revcycle/signals.py).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SSN = "123-45-6789"
SHOTS = os.environ.get("E2E_SCREENSHOTS", "var/screenshots")


@pytest.fixture
def sandbox_integrex(sandbox_url: str, st_marys: Facility, monkeypatch: Any) -> Connection:
    from sandbox.knobs import set_knobs

    # The live server speaks plain http, which oauthlib refuses unless told otherwise.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    set_knobs(ready_after=1.0)  # the sandbox answers 202 for 1 s, then the coverages
    client_id, secret = integrex_client()
    conn = Connection.objects.create(
        kind="integrex", name="Integrex sandbox", base_url=f"{sandbox_url}/integrex/api/v2",
        client_id=client_id, client_secret=secret, environment="T",
        poll_interval_seconds=1,  # 15 s in production (the spec); 1 s keeps the test short
    )
    conn.facilities.add(st_marys)
    return conn


def self_pay(facility: Facility, account: str, first: str, last: str, dob: str) -> Encounter:
    return Encounter.objects.create(
        facility=facility, account_number=account, patient_first_name=first,
        patient_last_name=last, patient_gender="F", patient_dob=dob, patient_ssn=SSN,
        provider_npi=facility.npi, service_date_from="2026-10-01",
    )


def shot(page: Any, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_a_single_lookup_shows_coverage_cards_and_a_coverage_is_applied(
        page: Any, login: Any, alice: Any, st_marys: Facility, sandbox_integrex: Connection,
        engine_worker: Any) -> None:
    encounter = self_pay(st_marys, "ACC1006", "MARIA", "GARCIA", "1985-03-14")
    login(alice)

    page.goto("/eligibility/new/?account=ACC1006")
    assert page.input_value("[name=patientLastName]") == "GARCIA"
    assert page.input_value("[name=patientSsn]") == ""  # the SSN stays on file
    shot(page, "discovery-form.png")
    page.click("button:has-text('Search for coverage')")
    # 30 s: the sandbox answers 2 s after the POST (ready_after), the engine polls each
    # second, the page every 2 s; the rest is room for a loaded machine.
    page.wait_for_selector("[data-coverage] >> nth=1", timeout=30_000)

    cards = page.locator("[data-coverage]")
    assert cards.count() == 2
    html = page.content()
    assert "***-**-6789" in html and SSN not in html and "123456789" not in html
    assert page.locator("[data-outcome=found]").count() == 1
    shot(page, "discovery-single.png")

    ticket = Ticket.objects.get(kind="discovery")
    first = ticket.coverages.get(position=0)
    cards.nth(0).locator("button[data-apply]").click()
    page.wait_for_selector("text=now bills")
    encounter.refresh_from_db()
    assert encounter.payer_name == first.payer_display
    assert encounter.subscriber_id == first.member_id and encounter.payer_id == first.payer_id
    link = cards.nth(0).locator("a:has-text('Check claim status')")
    assert link.get_attribute("href") == "/claims/status/new/?account=ACC1006"


def test_a_batch_of_ten_self_pay_patients_fills_in_live_and_a_coverage_is_applied(
        page: Any, login: Any, alice: Any, st_marys: Facility, sandbox_integrex: Connection,
        engine_worker: Any, tmp_path: Any) -> None:
    names = ["ANA", "BEN", "CARA", "DAN", "EVA", "FINN", "GIA", "HUGO", "IDA", "JON"]
    lines = ["patientFirstName,patientLastName,patientDob,patientGender,patientSsn,beginDos,"
             "payerName,internalAccountNumber1"]
    for i, first in enumerate(names):
        account = f"ACC300{i}"
        self_pay(st_marys, account, first, "SMITH", f"19{70 + i}-02-0{i % 9 + 1}")
        lines.append(f"{first},SMITH,19{70 + i}-02-0{i % 9 + 1},F,{SSN},2026-10-01,CA,{account}")
    csv_file = tmp_path / "self-pay.csv"
    csv_file.write_text("\n".join(lines) + "\n")
    login(alice)

    page.goto("/eligibility/batches/upload/")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("button:has-text('Upload and queue')")
    page.wait_for_selector("#batch-rows")
    page.evaluate("window.__sameDocument = true")  # a full reload would drop this
    rows = page.locator("#batch-rows tbody tr")
    assert rows.count() == 10
    # All ten rows done; a locator wait, since the page's CSP forbids evaluating strings.
    # 40 s: ten lookups 2 s each at the sandbox on 8 engine threads, then the page's poll.
    page.locator("#batch-rows tr[data-state=done]").nth(9).wait_for(timeout=40_000)
    assert page.evaluate("window.__sameDocument === true")  # filled in by htmx, live
    shot(page, "discovery-batch.png")

    outcomes = dict(Ticket.objects.filter(kind="discovery").values_list("account_number",
                                                                       "outcome"))
    assert outcomes.pop("ACC3008") == "none_found"
    assert set(outcomes.values()) == {"found"}
    assert Ticket.objects.get(account_number="ACC3007").coverages.count() == 2
    assert Ticket.objects.get(account_number="ACC3009").coverages.get().oop_indiv_in_remaining \
        is not None  # the garbled spelling, read leniently
    html = page.content()
    assert SSN not in html

    page.click("tr:has-text('ACC3007') a >> nth=0")
    page.wait_for_selector("[data-coverage]")
    page.locator("[data-coverage] >> nth=1").locator("button[data-apply]").click()
    page.wait_for_selector("text=now bills")
    applied = Ticket.objects.get(account_number="ACC3007").coverages.get(position=1)
    encounter = Encounter.objects.get(account_number="ACC3007")
    assert (encounter.payer_name, encounter.subscriber_id) == (applied.payer_display,
                                                               applied.member_id)
    shot(page, "discovery-applied.png")
