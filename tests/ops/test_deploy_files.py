"""deploy/: the files a hospital's IT installs, checked without a container engine.

The running check is deploy/smoke (web and worker from the units' commands, /healthz)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS_READ = re.compile(
    r"(?:envbool|envint|envfloat|envsecret|envlist|os\.environ\.get)\(\s*\"([A-Z][A-Z0-9_]*)\"")


def env_example() -> dict[str, tuple[str, str]]:
    """NAME -> (its comment line, its assignment line) from env.example."""
    lines = (DEPLOY / "env.example").read_text().splitlines()
    found = {}
    for before, line in zip(lines, lines[1:], strict=False):
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=", line)
        if match:
            found[match.group(1)] = (before, line)
    return found


def names_read_by(path: Path) -> set[str]:
    return set(SETTINGS_READ.findall(path.read_text()))


def unit_exec_start(name: str) -> str:
    text = (DEPLOY / "systemd" / name).read_text()
    return re.search(r"^ExecStart=(.*)$", text, re.M).group(1)


def test_every_setting_read_in_settings_py_is_in_env_example_with_default_and_secrecy() -> None:
    read = names_read_by(ROOT / "revcycle" / "settings.py")
    assert {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "LOG_FORMAT"} <= read  # the scan works
    documented = env_example()
    assert sorted(read - set(documented)) == []
    for name in read:
        comment = documented[name][0]
        assert comment.startswith(f"# {name}: "), name
        assert "Default:" in comment and re.search(r"Secret: (yes|no)", comment), name


def test_every_setting_the_gunicorn_config_reads_is_in_env_example() -> None:
    read = set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z_]+)[\"']",
                          (DEPLOY / "gunicorn.conf.py").read_text()))
    assert "PORT" in read and sorted(read - set(env_example())) == []


def test_the_secrets_are_marked_secret() -> None:
    documented = env_example()
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "DATABASE_URL"):
        assert "Secret: yes" in documented[name][0], name


def test_compose_has_the_database_web_engine_and_scalable_workers_from_the_units_commands(
) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "web", "engine", "worker"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert "replicas" in services["worker"]["deploy"]
    # The worker and the engine run what their systemd units run (minus the install path).
    assert " ".join(services["worker"]["command"]) in unit_exec_start("revcycle-worker@.service")
    assert " ".join(services["engine"]["command"]) in unit_exec_start("revcycle-engine.service")
    assert services["engine"]["command"][-1] == "engine"
    for name in ("engine", "worker"):
        assert services[name]["healthcheck"]["test"][-3:] == ["manage.py", "healthz", "--check"]
    for name in ("web", "engine", "worker"):
        waits_for = services[name]["depends_on"]["migrate"]["condition"]
        assert waits_for == "service_completed_successfully"


def test_the_image_runs_the_web_unit_command_as_a_non_root_user_with_a_healthcheck() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM ", dockerfile, re.M)
    assert len(stages) >= 2  # build and runtime
    build, runtime = dockerfile.split("\nFROM ", 2)[1:]
    assert "collectstatic --noinput" in build
    user = re.search(r"^USER (\S+)", runtime, re.M).group(1)
    assert not user.startswith(("root", "0"))
    assert re.search(r"^HEALTHCHECK .*\n?.*healthcheck\.py", runtime, re.M)
    cmd = re.search(r"^CMD \[(.*)\]$", runtime, re.M).group(1).replace('"', "").split(", ")
    web = unit_exec_start("revcycle-web.service").split()
    assert cmd[1:] == [a.replace("/opt/revcycle", "/app") for a in web[1:]]
    assert (DEPLOY / "healthcheck.py").exists()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Verified with the install path mapped to this checkout, so ExecStart exists."""
    paths = []
    for unit in ("revcycle-web.service", "revcycle-engine.service", "revcycle-worker@.service"):
        text = (DEPLOY / "systemd" / unit).read_text().replace("/opt/revcycle", str(ROOT))
        (tmp_path / unit).write_text(text)
        paths.append(tmp_path / unit)
    paths.append(tmp_path / "revcycle-worker@1.service")
    (tmp_path / "revcycle-worker@1.service").symlink_to(tmp_path / "revcycle-worker@.service")
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, paths)],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if "revcycle" in line]
    assert done.returncode == 0 and problems == [], problems


def test_the_engine_unit_runs_the_engine_command_and_stops_it_with_sigterm() -> None:
    text = (DEPLOY / "systemd" / "revcycle-engine.service").read_text()
    assert unit_exec_start("revcycle-engine.service").endswith("manage.py engine")
    assert "EnvironmentFile=/etc/revcycle/env" in text
    assert re.search(r"^KillSignal=SIGTERM$", text, re.M)
    assert re.search(r"^Restart=always$", text, re.M)
    # Longer than two HTTP read timeouts, so a step in flight can finish before SIGKILL.
    assert int(re.search(r"^TimeoutStopSec=(\d+)$", text, re.M).group(1)) > 2 * 30


def test_nothing_in_deploy_runs_the_engine_inside_django_q2() -> None:
    """The placement is explicit: the engine is its own process, qcluster only runs jobs."""
    from revcycle import schedules

    assert "revcycle.tasks.ensure_pumps" in schedules.RETIRED
    assert all(job.func != "revcycle.tasks.ensure_pumps" for job in schedules.SCHEDULES.values())


def test_the_worker_unit_is_a_template_with_an_environment_file() -> None:
    text = (DEPLOY / "systemd" / "revcycle-worker@.service").read_text()
    assert "%i" in text and "EnvironmentFile=/etc/revcycle/env" in text
    web = (DEPLOY / "systemd" / "revcycle-web.service").read_text()
    assert "EnvironmentFile=/etc/revcycle/env" in web
    assert re.search(r"^User=revcycle$", web, re.M)


def test_the_image_holds_every_package_the_project_ships() -> None:
    include = re.search(r"^include = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M)
    packages = {name.strip(' "*') for name in include.group(1).split(",")}
    assert {"revcycle", "claims"} <= packages
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.M))
    made = set(re.search(r"^RUN mkdir ([\w ]+)", dockerfile, re.M).group(1).split())
    assert sorted(packages - copied) == [] and sorted(packages - made) == []
