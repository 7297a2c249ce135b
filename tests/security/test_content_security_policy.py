"""Content Security Policy: every response carries the strict, enforced policy, and no
template holds inline script or style that the policy would block (the browser side is
tests/e2e/test_csp.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", ROOT / "sandbox" / "templates"]
EXPECTED = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
    "img-src": "'self' data:", "form-action": "'self'", "frame-ancestors": "'none'",
    "base-uri": "'none'", "object-src": "'none'",
}
# What the policy blocks in a template: a <style> element, a style="" attribute, an inline
# <script> (one without src), and an on*="" event handler attribute.
INLINE = {
    "<style> element": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "on* handler": re.compile(r"\son[a-z]+\s*=", re.I),
}


def _directives(header: str) -> dict[str, str]:
    parts = (p.strip().split(None, 1) for p in header.split(";") if p.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/claims/", "/admin/"])
def test_every_page_carries_the_strict_enforced_policy(client_for, ada, path):
    response = client_for(ada).get(path, follow=True)
    assert "Content-Security-Policy-Report-Only" not in response.headers
    header = response["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert _directives(header) == EXPECTED


def test_the_login_page_carries_it_before_anyone_signs_in(client):
    header = client.get("/accounts/login/")["Content-Security-Policy"]
    assert _directives(header)["script-src"] == "'self'"


def _offences(text: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)  # template comments never reach a page
    return [name for name, pattern in INLINE.items() if pattern.search(text)]


def test_the_scanner_sees_each_kind_of_inline_code():
    assert _offences('<div style="x">') == ["style attribute"]
    assert _offences("<script>alert(1)</script>") == ["inline <script>"]
    assert _offences('<input onclick="f()">') == ["on* handler"]
    assert _offences("<style>a{}</style>") == ["<style> element"]
    assert _offences('<script src="/static/x.js" defer></script> {# <style> #}') == []


def test_no_template_holds_inline_script_or_style():
    found = [f"{path.relative_to(ROOT)}: {offence}"
             for folder in TEMPLATE_DIRS for path in sorted(folder.rglob("*.html"))
             for offence in _offences(path.read_text())]
    assert found == []
