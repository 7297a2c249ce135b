"""A biller uploads 20 claims, watches every row finish without reloading, reads a denial
and downloads the export: the app, the engine and the Integrex sandbox over real HTTP."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from revcycle.models import Connection, Ticket
from sandbox.credentials import integrex_client

SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "test-results"))


def _csv(rows: int) -> bytes:
    lines = ["Account Number,Patient First Name,Patient Last Name,Patient DOB,Member ID,"
             "Date of Service,Payer ID,Payer Name,Total Charges"]
    for i in range(rows):
        lines.append(f"E2E{i:03d},PAT{i},DOE,1970-01-{(i % 27) + 1:02d},M{i:06d},"
                     f"2026-10-01,AETNA,AETNA,{100 + i}.00")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def sandbox_integrex(transactional_db, st_marys, sandbox_url, settings,
                     monkeypatch) -> Connection:
    # The live server speaks plain HTTP; oauthlib refuses that unless told it is fine.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    settings.SANDBOX_READY_AFTER = 1.0
    client_id, secret = integrex_client()
    connection = Connection.objects.create(
        kind="integrex", name="Integrex sandbox", base_url=f"{sandbox_url}/integrex/api/v2",
        client_id=client_id, client_secret=secret, poll_interval_seconds=1,
    )
    connection.facilities.add(st_marys)
    return connection


@pytest.mark.e2e
def test_a_biller_runs_a_batch_of_20_claims_and_reads_a_denial(
        page, login, alice, sandbox_integrex, engine_worker, tmp_path):
    SHOTS.mkdir(exist_ok=True)
    login(alice)
    page.goto("/claims/status/batches/upload/")
    page.screenshot(path=str(SHOTS / "claim-status-upload.png"), full_page=True)
    page.set_input_files("input[name=file]", files=[{
        "name": "claims.csv", "mimeType": "text/csv", "buffer": _csv(20)}])
    polls: list[tuple[str | None, str | None, int]] = []
    page.on("response", lambda r: polls.append(
        (r.request.headers.get("x-poll"), r.request.headers.get("x-csrftoken"), r.status))
        if r.request.headers.get("hx-request") else None)
    page.click("button[type=submit]")
    page.wait_for_url("**/claims/status/batches/*/")
    # A marker that a reload would wipe: the page must update in place.
    page.evaluate("window.__noReload = true")
    page.screenshot(path=str(SHOTS / "claim-status-batch-running.png"), full_page=True)
    # 45 s: 20 lookups, each answered 1 s after its POST (SANDBOX_READY_AFTER) and polled each
    # second by 8 engine threads, then the page's next poll, with room for a loaded machine.
    page.wait_for_selector("[data-testid=batch-finished]", timeout=45_000)
    assert page.evaluate("window.__noReload") is True
    # The poll contract (revcycle/polling.py): marked polls, stopped by a 286 at the end.
    assert polls and all(marker == "1" for marker, _, _ in polls)
    assert polls[-1][2] == 286
    assert page.inner_text("[data-count=done]") == "20"
    assert page.inner_text("[data-count=total]") == "20"
    assert page.locator("#batch-rows tbody tr[data-state=done]").count() == 20
    page.screenshot(path=str(SHOTS / "claim-status-batch-done.png"), full_page=True)
    assert Ticket.objects.filter(state=Ticket.State.DONE).count() == 20

    # Download the export from the batch page.
    with page.expect_download() as download_info:
        page.click("text=Export results (CSV)")
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert {r["trackingId1"] for r in rows} == {f"E2E{i:03d}" for i in range(20)}
    assert "denied" in {r["outcome"] for r in rows}
    assert all(r["categoryCode"] for r in rows)

    # Open a denied claim and read the reason.
    page.locator("#batch-rows tr:has([data-outcome=denied]) a").first.click()
    page.wait_for_selector("[data-testid=reasons]")
    reasons = page.inner_text("[data-testid=reasons]")
    assert "CARC" in reasons and "RARC" in reasons
    assert "no description on file" not in reasons.split("CARC", 1)[1].splitlines()[0]
    assert "Denied" in page.inner_text("[data-testid=advice]")
    page.screenshot(path=str(SHOTS / "claim-status-denied.png"), full_page=True)

    # The worklist: a denied filter finds the denials; the lookup form is prefilled.
    page.goto("/claims/?outcome=denied")
    assert page.locator("#worklist tbody tr[data-ticket]").count() == 4
    page.screenshot(path=str(SHOTS / "claim-status-worklist.png"), full_page=True)
    page.goto("/claims/status/new/")
    assert page.input_value("#id_billingProviderNpi") == "1083052872"
    page.screenshot(path=str(SHOTS / "claim-status-new.png"), full_page=True)
