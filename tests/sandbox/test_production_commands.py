"""Production's `manage.py help` lists only commands that work there: the development
tools live in the sandbox app, which production does not install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.core.test_deploy_settings import ROOT, production_env

DEV_ONLY = {"bench", "soak", "demo_setup", "serve_demo", "sandbox_knobs"}


def command_names(env: dict[str, str]) -> set[str]:
    result = subprocess.run([sys.executable, "manage.py", "help", "--commands"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_production_lists_no_development_command(tmp_path: Path) -> None:
    names = command_names(production_env(tmp_path))
    assert {"run_batch", "connection", "import_codes", "qcluster", "migrate"} <= names
    assert names & DEV_ONLY == set()


def test_the_demo_lists_the_development_commands(tmp_path: Path) -> None:
    env = production_env(tmp_path, DEBUG="1", SANDBOX_ENABLED="1")
    assert DEV_ONLY <= command_names(env)
