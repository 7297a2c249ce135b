"""followup names no domain: each domain registers its worklist sources with it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import followup
from followup import sources

DOMAIN_APPS = {"claims", "eligibility", "smartlink", "payer"}
FOLLOWUP_DIR = Path(followup.__file__).parent


def domain_imports(path: Path) -> list[str]:
    """Every import of a domain app in the file, at any depth (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.name}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in DOMAIN_APPS]
    return found


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from payer.models import ClaimEvent\n    import claims\n")
    assert domain_imports(sample) == ["sample.py:2 payer.models", "sample.py:3 claims"]


@pytest.mark.parametrize("path", sorted(FOLLOWUP_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_followup_imports_no_domain_app(path):
    assert domain_imports(path) == []


def test_every_domain_registered_its_own_sources():
    assert set(sources.DOMAINS) == {"claim_status", "discovery", "smart_invoice_status",
                                    "payer_claim"}
    assert set(sources.SOURCES) == {"claim_denied", "claim_pending", "discovery_none",
                                    "smart_not_billed", "payer_review", "payer_conflict",
                                    "error"}
    assert [f.__module__ for f in sources.TIMELINE_SOURCES] == ["payer.worklist"]
