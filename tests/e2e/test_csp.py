"""Content Security Policy in the browser: every page a biller, a manager and an admin can
open loads under the enforced policy (settings.CONTENT_SECURITY_POLICY) without a single
violation, so no inline script or style is left anywhere (the admin's own pages included)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pages import admin_pages, biller_pages, manager_pages

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Records every violation the browser reports to the page; the console catches the rest.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
                    " at " + (e.sourceFile || "?") + ":" + e.lineNumber);
});
"""


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
