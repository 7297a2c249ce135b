"""Accessibility in the browser: axe-core (the npm package pinned in package.json, installed
by `make setup`) scans every page a biller, a manager and an admin can open, the error
pages and the admin's own, and finds no serious or critical violation. The regions HTMX
refreshes announce themselves (aria-live), and the worklist and the Smart desk work with
the keyboard alone (tests/e2e/test_keyboard.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from claims.flow import parse_claim_info, store
from eligibility.client import read_coverage
from eligibility.flow import store_coverages
from revcycle.models import Ticket
from tests.e2e.pages import admin_pages, biller_pages, manager_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# The axe rule sets the scan holds the pages to: WCAG 2.1 A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(" "))}));
}"""


def axe_source() -> str:
    """The axe-core script; a missing install fails the test (never skips it): the scan is
    one of the issue's promises."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE} missing): run `make setup` "
                    "(npm ci installs package-lock.json)")
    return AXE.read_text()


def scan(page: Any, path: str, *, status: int = 200) -> list[str]:
    """The serious and critical violations axe finds on the page, one line each."""
    response = page.goto(path)
    assert response is not None and response.status == status, (path, response.status)
    page.wait_for_load_state("load")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: the
    # policy stays enforced for the page's own scripts while it is scanned.
    page.evaluate(axe_source())
    found = page.evaluate(RUN_AXE, TAGS)
    return [f"{path}: {v['id']} ({v['impact']}: {v['help']}) at {', '.join(v['targets'][:5])}"
            for v in found if v["impact"] in BLOCKING]


@pytest.fixture
def scanned(records: dict[str, Any]) -> dict[str, Any]:
    """The records, with answers on the pages that show them: service lines with CARC and
    RARC on the claim, two coverages on the discovery lookup."""
    from sandbox.demo_data import DEMO_PATIENTS, claim_status_request, discovery_request
    from sandbox.scenarios import claim_status_lines, discovery_coverages

    patient = next(p for p in DEMO_PATIENTS if p["account_number"].endswith("4"))  # denied
    today = timezone.localdate()
    store(records["claim"], parse_claim_info(
        claim_status_lines(claim_status_request(patient), today)))
    two = {**discovery_request(patient), "internalAccountNumber1": "ACC2001"}
    store_coverages(records["lookup"],
                    [read_coverage(c) for c in discovery_coverages(two, today)])
    Ticket.objects.filter(pk=records["lookup"].pk).update(state="done", outcome="found",
                                                          finished_at=timezone.now())
    return records


def unique(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(p for pages in lists for p in pages))


def test_axe_is_installed_from_the_npm_lock() -> None:
    lock = (AXE.parents[2] / "package-lock.json").read_text()
    assert '"node_modules/axe-core"' in lock
    assert "axe.run" in axe_source()


def test_the_sign_in_page_has_no_serious_violation(page) -> None:
    assert scan(page, "/accounts/login/") == []


@pytest.mark.parametrize(("role", "pages"), [
    ("alice", lambda r: biller_pages(r)),
    ("maya", lambda r: unique(manager_pages(r), biller_pages(r))),
    ("ada", lambda r: unique(admin_pages(r), biller_pages(r))),
], ids=["biller", "manager", "admin"])
def test_no_page_a_role_can_open_has_a_serious_violation(request, page, login, scanned,
                                                          role, pages) -> None:
    login(request.getfixturevalue(role))
    found: list[str] = []
    for path in pages(scanned):
        found += scan(page, path)
    assert found == [], "\n".join(found)


def test_the_error_pages_have_no_serious_violation(page, login, alice) -> None:
    login(alice)
    found = scan(page, "/audit/", status=403)  # a biller may not read the audit log
    found += scan(page, "/claims/status/999999/", status=404)
    assert found == [], "\n".join(found)


LIVE = "id => { const r = document.getElementById(id); return r && r.closest('[aria-live]') }"


def test_the_regions_htmx_refreshes_are_live_regions(page, login, alice, records) -> None:
    """Screen readers announce a result that arrives by polling: each polled region sits in
    an aria-live region on the page, and so does the fragment a poll swaps in."""
    waiting = records["batch"].tickets.filter(state="queued").get()
    login(alice)
    regions = {
        "/claims/": "worklist",
        f"/claims/status/{waiting.pk}/": "claim-result",
        f"/claims/status/batches/{records['batch'].pk}/": "batch-live",
        f"/claims/payer/{records['payer_claim'].pk}/": "answer",
        f"/smart/invoices/{records['invoice'].pk}/": "status",
        f"/followup/accounts/{records['encounter'].pk}/": "timeline",
    }
    silent = []
    for path, region in regions.items():
        page.goto(path)
        assert page.locator(f"#{region}").get_attribute("hx-trigger"), f"{path} #{region}"
        if page.evaluate(f"id => ({LIVE})(id)?.getAttribute('aria-live')", region) != "polite":
            silent.append(f"{path} #{region}")
        # The poll as htmx sends it, with the page's session.
        fragment = page.request.get(path, headers={"HX-Request": "true", "X-Poll": "1"}).text()
        opening = re.search(rf'<div id="{region}"[^>]*>', fragment)
        if not opening or 'aria-live="polite"' not in opening.group(0):
            silent.append(f"{path} #{region} after a poll")
    assert silent == []
    # The desk's search results arrive by HTMX too.
    page.goto("/smart/")
    assert page.evaluate(f"id => ({LIVE})(id)?.getAttribute('aria-live')", "sessions") == "polite"


def test_a_poll_changes_the_live_region_it_does_not_replace_it(page, login, alice,
                                                                records) -> None:
    """A live region swapped out whole (outerHTML) is a new region, and a screen reader
    never announces a new region's content: the region that announces stays in the page
    (static/js/app.js), and what a poll brings lands inside it."""
    waiting = records["batch"].tickets.filter(state="queued").get()
    login(alice)
    page.goto(f"/claims/status/{waiting.pk}/")
    page.evaluate(f"""() => {{ window.__live = ({LIVE})("claim-result");
                              document.getElementById("claim-result").dataset.old = "1"; }}""")
    # The fragment of the next poll, settled, in the same wrapper, with no region of its own.
    page.locator("[data-live] > #claim-result:not([data-old]):not([aria-live])").wait_for(
        state="attached")
    assert page.evaluate(f"() => ({LIVE})('claim-result') === window.__live") is True
    assert page.evaluate("() => window.__live.getAttribute('aria-live')") == "polite"
    assert page.locator("[aria-live] [aria-live]").count() == 0  # no region inside another


def test_every_page_starts_with_a_skip_link_to_main(page, login, alice) -> None:
    login(alice)
    page.goto("/followup/")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
