"""requirements.lock: every dependency pinned with hashes, in step with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {normalise(re.match(r"[A-Za-z0-9_.-]+", spec).group(0)) for spec in specs}


def locked() -> dict[str, list[str]]:
    """name -> its hashes, from the lock's `name==version \\` entries."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==\S+", line):
            current = normalise(match.group(1))
            found[current] = []
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            found[current].append(digest.group(1))
    return found


def test_every_dependency_in_pyproject_is_in_the_lock() -> None:
    """A dependency added to pyproject.toml without `make lock` would never be installed."""
    assert {"django", "django-q2", "pytest", "mypy"} <= declared()  # the scan works
    assert sorted(declared() - set(locked())) == []


def test_every_locked_package_is_pinned_with_a_hash() -> None:
    entries = locked()
    assert len(entries) > 20
    assert sorted(name for name, hashes in entries.items() if not hashes) == []
