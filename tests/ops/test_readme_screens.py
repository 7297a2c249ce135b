"""The README's "Screens" section shows the PNGs `make screenshots` takes: each image it
links is committed, and each screen the script saves is linked."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.screenshots import SCREENS

ROOT = Path(__file__).resolve().parents[2]


def test_every_screenshot_the_readme_shows_is_committed_and_taken_by_the_script() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((docs/screenshots/[\w-]+\.png)\)", readme))
    assert linked, "the README links no screenshot"
    assert sorted(p for p in linked if not (ROOT / p).is_file()) == []
    assert {f"docs/screenshots/{name}.png" for name in SCREENS} == linked
