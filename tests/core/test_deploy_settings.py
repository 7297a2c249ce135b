"""Production settings pass `check --deploy`, and the demo keys cannot reach production."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from revcycle import checks
from revcycle import settings as project_settings

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "SECRET_", "FIELD_", "SANDBOX_"))}
    env.update(
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="revcycle.example.org", SANDBOX_ENABLED="0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REVCYCLE_VAR_DIR=str(tmp_path),
    )
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_the_demo_field_key_is_refused_with_debug_off(settings: Any) -> None:
    settings.DEBUG = False
    settings.SECRET_KEY = secrets.token_urlsafe(64)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(),
                                      project_settings._DEMO_FIELD_KEY]
    assert [e.id for e in checks.check_encryption_keys(None)] == ["revcycle.E002"]


def test_the_demo_secret_key_is_refused_with_debug_off(settings: Any) -> None:
    settings.DEBUG = False
    settings.SECRET_KEY = project_settings._DEMO_SECRET
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert [e.id for e in checks.check_encryption_keys(None)] == ["revcycle.E003"]


def test_the_demo_keys_are_fine_for_the_demo(settings: Any) -> None:
    settings.DEBUG = True
    settings.SECRET_KEY = project_settings._DEMO_SECRET
    settings.FIELD_ENCRYPTION_KEYS = [project_settings._DEMO_FIELD_KEY]
    assert checks.check_encryption_keys(None) == []


def test_a_short_field_key_is_reported(settings: Any) -> None:
    settings.DEBUG = True
    settings.FIELD_ENCRYPTION_KEYS = ["too-short"]
    assert [e.id for e in checks.check_encryption_keys(None)] == ["revcycle.E001"]


def test_the_sandbox_in_production_is_reported(settings: Any) -> None:
    settings.DEBUG, settings.SANDBOX_ENABLED = False, True
    assert [w.id for w in checks.check_sandbox_off_in_production(None)] == ["revcycle.W001"]
