"""`manage.py serve_demo` run for real in a subprocess: it stops every process it started,
its access log carries no query strings, and with DEBUG on it serves loopback only.

Each server test starts the command on a free loopback port against a SQLite file of its
own, migrated once per module; every wait is a polling loop with a deadline."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) from /proc, or None when the pid is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def is_running(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its record stays


def descendants(root: int) -> dict[int, int]:
    """Every process below `root`, with its depth (children 1, grandchildren 2, ...)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(int(entry))) is not None:
            parents[int(entry)] = stat[1]
    found: dict[int, int] = {}
    frontier = [(root, 0)]
    while frontier:
        pid, depth = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = depth + 1
                frontier.append((child, depth + 1))
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def demo_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(DEBUG="1", SANDBOX_ENABLED="1", REVCYCLE_VAR_DIR=str(var_dir),
               DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = demo_env(tmp_path_factory.mktemp("serve_demo"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=180)
    return env


class Served:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.seen: set[int] = set()  # every process seen below it, for the teardown

    def tree(self) -> dict[int, int]:
        found = descendants(self.process.pid)
        self.seen.update(found)
        return found


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start serve_demo; afterwards SIGKILL whatever of it is left, so no test leaks."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        port, log = free_port(), tmp_path / f"serve_demo-{len(started)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "serve_demo", "--port", str(port),
                 "--threads", "4", "--grace", "3", *args],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        served = Served(process, port, log)
        started.append(served)
        return served

    yield start
    left: set[int] = set()
    for served in started:
        left.update(served.seen, served.tree(), [served.process.pid])
    for pid in left:
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)
    for served in started:
        served.process.wait(timeout=10)


def wait_until_serving(served: Served) -> dict[int, int]:
    """Wait for the web server and for qcluster's own forks (serve_demo -> qcluster ->
    sentinel -> pusher, monitor and workers: depth 3), then return the process tree."""
    wait_until(lambda: answers(f"{served.url}/healthz"), 60, "the web server")
    wait_until(lambda: sum(d >= 3 for d in served.tree().values()) >= 3,
               60, "qcluster's pusher, monitor and workers")
    return served.tree()


def test_sigterm_stops_every_process_serve_demo_started(serve: Callable[..., Served]) -> None:
    served = serve()
    tree = wait_until_serving(served)
    assert len(tree) >= 5  # gunicorn and its worker, qcluster and its forks

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0

    wait_until(lambda: not any(is_running(pid) for pid in tree), 20,
               f"every child and grandchild of {sorted(tree)} to exit")


def test_sigint_stops_every_process_too(serve: Callable[..., Served]) -> None:
    served = serve()
    tree = wait_until_serving(served)

    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=60) == 0
    wait_until(lambda: not any(is_running(pid) for pid in tree), 20,
               "every child and grandchild to exit")


def test_the_access_log_records_paths_without_query_strings(
        serve: Callable[..., Served]) -> None:
    served = serve()
    wait_until(lambda: answers(f"{served.url}/healthz"), 60, "the web server")
    request = urllib.request.Request(
        f"{served.url}/accounts/login/?next=/encounters/%3Fq%3DJANE%2BROE&dob=1961-04-02",
        headers={"Referer": f"{served.url}/encounters/?q=MARIA+GARCIA"})
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
        pass
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=60)

    log = served.log.read_text()
    access = [line for line in log.splitlines() if '"GET ' in line]
    for phi in ("JANE", "ROE", "1961-04-02", "MARIA", "GARCIA", "next="):
        assert phi not in log
    assert not [line for line in access if "?" in line]
    assert any('"GET /accounts/login/ HTTP/1.1" 200' in line for line in access), log


def run_until_exit(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a server command that should refuse to start; if it starts, stop its group."""
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:  # it started serving: SIGTERM lets it stop its children
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            finally:
                os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def test_serve_demo_with_debug_refuses_a_public_address(env: dict[str, str]) -> None:
    result = run_until_exit([sys.executable, "manage.py", "serve_demo", "--host", "0.0.0.0",
                             "--port", str(free_port())], env)
    assert result.returncode != 0
    assert "DEBUG is on, so this server binds loopback only" in result.stderr
    assert "'0.0.0.0'" in result.stderr


def test_runserver_with_debug_refuses_a_public_address(env: dict[str, str]) -> None:
    result = run_until_exit([sys.executable, "manage.py", "runserver", "--noreload",
                             f"0.0.0.0:{free_port()}"], env)
    assert result.returncode != 0
    assert "DEBUG is on, so this server binds loopback only" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts_are_allowed_with_debug(host: str, settings: Any) -> None:
    from sandbox.loopback import refuse_public_address_with_debug

    settings.DEBUG = True
    refuse_public_address_with_debug(host)  # raises on a public address


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "demo.example.org"])
def test_other_hosts_are_refused_with_debug(host: str, settings: Any) -> None:
    from django.core.management.base import CommandError

    from sandbox.loopback import refuse_public_address_with_debug

    settings.DEBUG = True
    with pytest.raises(CommandError, match="loopback only"):
        refuse_public_address_with_debug(host)
