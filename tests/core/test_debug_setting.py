"""DEBUG is off unless the environment turns it on: its error pages show local variables,
secrets included (issue 14, defect 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.core.test_deploy_settings import ROOT, production_env

PRINT_DEBUG = "from django.conf import settings; print(settings.DEBUG)"


def settings_debug(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "DJANGO_SETTINGS_MODULE": "revcycle.settings"}
    return subprocess.run([sys.executable, "-c", PRINT_DEBUG], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_debug_is_off_when_the_environment_does_not_set_it(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["DEBUG"]
    result = settings_debug(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_is_on_only_when_asked(tmp_path: Path) -> None:
    result = settings_debug(production_env(tmp_path, DEBUG="1"))
    assert result.stdout.strip() == "True", result.stderr


def test_without_debug_the_demo_secret_is_not_used(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["DEBUG"], env["SECRET_KEY"]
    result = settings_debug(env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
