"""The harness shared by `manage.py bench` and `manage.py soak`.

Both commands measure the real thing: gunicorn serving the app and, on another port, the
sandbox; `manage.py engine` running the ticket engine; the database named by DATABASE_URL
(PostgreSQL) or SQLite. To leave the working database alone they first re-run themselves on
a database of their own (var/<command>.sqlite3, or <name>_bench on the same PostgreSQL
server), migrated afresh. Every child process runs in its own session, so it can be killed
with its children (killpg), and every child is stopped on the way out, whatever happened.
Only loopback addresses are ever used; every loop is bounded in count and time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

LOOPBACK = "127.0.0.1"
CHILD_FLAG = "REVCYCLE_BENCH_CHILD"


# The database of a run ---------------------------------------------------------------


def reexec_on_own_database(command: str, extra_env: dict[str, str] | None = None) -> None:
    """Run this command again on a fresh database of its own (returns only in the re-run).

    Settings are read once per process, so the simplest way to switch every part (this
    process, gunicorn, the worker) to another database is to start again with another
    DATABASE_URL in the environment."""
    if os.environ.get(CHILD_FLAG) == "1":
        return
    from django.conf import settings

    # A var/ of its own too: collected static files, logs, the SQLite file.
    var_dir = Path(settings.VAR_DIR) / command
    var_dir.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        new_url = _fresh_postgres(url, command)
    else:
        path = var_dir / f"{command}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        new_url = f"sqlite:///{path}"
    env = {**os.environ, **(extra_env or {}), "DATABASE_URL": new_url, CHILD_FLAG: "1",
           "REVCYCLE_VAR_DIR": str(var_dir)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _fresh_postgres(url: str, command: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "revcycle"
    bench_name = f"{name}_{command}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench_name}"')
    return urlunsplit(parts._replace(path=f"/{bench_name}"))


def sandbox_database_url() -> str | None:
    """Where the sandbox process keeps its tables: on SQLite a file of its own, else None
    (the same PostgreSQL database; the sandbox's tables are its own).

    On SQLite the app and the sandbox must not share a file: the app takes the database's
    one write lock while it asks for a token (revcycle/oauth.py), and the sandbox needs
    that lock to issue it, so both wait until the 30 s busy timeout."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    return f"sqlite:///{Path(connection.settings_dict['NAME']).with_suffix('')}-sandbox.sqlite3"


def sandbox_posts(prefix: str) -> dict[str, int]:
    """How many claim-info POSTs the sandbox took per trackingId1 starting with `prefix`."""
    from collections import Counter

    counts: Counter[str] = Counter()
    url = sandbox_database_url()
    if url is None:
        from sandbox.models import IntegrexTicket

        bodies: Iterable[Any] = IntegrexTicket.objects.filter(kind="claim-info").values_list(
            "request_json", flat=True)
    else:
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            bodies = [json.loads(r[0]) for r in conn.execute(
                "SELECT request_json FROM sandbox_integrexticket WHERE kind = 'claim-info'")]
    for body in bodies:
        tracking = str((body or {}).get("trackingId1", "")) if isinstance(body, dict) else ""
        if tracking.startswith(prefix):
            counts[tracking] += 1
    return dict(counts)


def sandbox_workers(vendor: str, env: Mapping[str, str]) -> int:
    """How many gunicorn processes serve the bench's sandbox: BENCH_SANDBOX_WORKERS, else
    1 on SQLite and 2 on PostgreSQL. On SQLite every process of the sandbox writes its
    counters into one file under one write lock, so a second process mostly waits for
    it; on PostgreSQL one process (one GIL) would be the batch's bottleneck."""
    value = env.get("BENCH_SANDBOX_WORKERS", "").strip()
    if not value:
        return 1 if vendor == "sqlite" else 2
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"BENCH_SANDBOX_WORKERS must be a whole number >= 1, not {value!r}")
    return int(value)


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


# Child processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def gunicorn_argv(port: int, *, threads: int, workers: int = 1,
                  app: str = "revcycle.wsgi") -> list[str]:
    return [sys.executable, "-m", "gunicorn", app, "--bind", f"{LOOPBACK}:{port}",
            "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "--timeout", "120", "--log-level", "warning", "--backlog", "512"]


def manage_argv(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py"), *args]


def engine_argv() -> list[str]:
    return manage_argv("engine")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


class Processes:
    """Children started in their own sessions, stopped (with their children) on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, Child] = {}

    def __enter__(self) -> Processes:
        # A SIGTERM (timeout, Ctrl-C in make, CI ending) must run __exit__ too, or the
        # children outlive us: turn it into SystemExit.
        self._old_term = signal.signal(signal.SIGTERM, _exit_on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, self._old_term)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        handle = open(log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        process = subprocess.Popen(list(argv), env=env, stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=str(Path(__file__).resolve().parent.parent))
        handle.close()
        child = Child(name, process, log_path)
        self.children[name] = child
        return child

    def kill(self, name: str) -> None:
        """SIGKILL a child and everything it started (the soak's "worker dies")."""
        child = self.children[name]
        child.signal_group(signal.SIGKILL)
        child.process.wait(timeout=10)

    def stop(self, name: str, grace: float = 8.0) -> None:
        child = self.children.get(name)
        if child is None:
            return
        if child.alive:
            child.signal_group(signal.SIGTERM)
            try:
                child.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group goes too.
        child.signal_group(signal.SIGKILL)
        try:
            child.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user+system) of each child's session so far, from /proc."""
        return {name: session_cpu_seconds(child.process.pid)
                for name, child in self.children.items()}


def with_query(url: str, **params: str) -> str:
    """`url` with these query parameters added (a database URL's OPTIONS)."""
    from urllib.parse import urlencode

    return url + ("&" if "?" in url else "?") + urlencode(params)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds (user+system) of each PostgreSQL server process on this machine (every
    process named postgres: backends, autovacuum, WAL writer, checkpointer), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name, rest = Path(f"/proc/{entry}/stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError, IndexError):
            continue
        if name == "postgres":
            fields = rest.split()
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def postgres_roles() -> dict[int, str]:
    """Who each PostgreSQL process serves: the application_name of the bench's database's
    client backends (the bench names its children's connections), "other database" for
    processes working for other databases of the same server, "server" for the rest (its
    own processes, and autovacuum of this database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, datname, application_name, backend_type "
                       "FROM pg_stat_activity")
        rows = cursor.fetchall()
        own = connection.settings_dict["NAME"]
    roles = {}
    for pid, datname, app, kind in rows:
        if datname not in (None, own):
            roles[pid] = "other database"
        elif kind == "client backend":
            roles[pid] = app or "bench"
        else:  # autovacuum of our database, the WAL writer, the checkpointer...
            roles[pid] = "server"
    return roles


def postgres_cpu_by_role(before: dict[int, float], after: dict[int, float],
                         roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds each role's PostgreSQL processes used between two postgres_cpu() reads
    (a process started meanwhile counts from zero; one that ended is lost)."""
    used: dict[str, float] = {}
    for pid, seconds in after.items():
        role = roles.get(pid, "server")
        used[role] = used.get(role, 0.0) + seconds - before.get(pid, 0.0)
    return used


def session_cpu_seconds(sid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # Fields after the name: state ppid pgrp session ... utime(12) stime(13).
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> int:
    """Reset this process's peak resident size (Linux clear_refs); returns the current
    resident size in bytes, the baseline for peak_rss()."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") * 1024


def peak_rss() -> int:
    return _status_kb("VmHWM") * 1024


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def wait_http(url: str, timeout: float = 30.0, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive:
            raise RuntimeError(f"{child.name} exited early; see {child.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# The sandbox's control endpoints -----------------------------------------------------


def _json_request(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"null")


def sandbox_knobs(sandbox_root: str, **values: Any) -> dict[str, Any]:
    """POST /sandbox/knobs, after unsetting every knob (each run starts from defaults)."""
    return _json_request(f"{sandbox_root}/knobs", {"reset": True, **values})


def sandbox_stats(sandbox_root: str) -> dict[str, Any]:
    return _json_request(f"{sandbox_root}/stats")


def sandbox_reset_stats(sandbox_root: str) -> dict[str, Any]:
    return _json_request(f"{sandbox_root}/stats/reset", {})


# The records a run needs -------------------------------------------------------------

BENCH_NPI = "1083052872"


@dataclass
class World:
    user: Any
    facility: Any
    connection: Any


def make_world(sandbox_root: str, *, poll_interval: int, concurrency: int) -> World:
    """A facility, a biller-manager and an Integrex connection pointed at the sandbox."""
    from django.contrib.auth.models import Group, User

    from revcycle.models import Connection, Facility
    from sandbox.credentials import integrex_client

    facility, _ = Facility.objects.get_or_create(name="Bench General Hospital", npi=BENCH_NPI)
    user, created = User.objects.get_or_create(username="bench")
    if created:
        user.set_unusable_password()
        user.save()
    for role in ("biller", "manager"):
        group = Group.objects.filter(name=role).first()
        if group:
            user.groups.add(group)
    facility.members.add(user)
    client_id, secret = integrex_client()
    connection, _ = Connection.objects.update_or_create(
        name="Bench Integrex", defaults={
            "kind": "integrex", "environment": "T",
            "base_url": f"{sandbox_root}/integrex/api/v2", "client_id": client_id,
            "client_secret": secret, "health_check_path": "health",
            "poll_interval_seconds": poll_interval, "max_concurrency": concurrency,
            "rate_limit_per_second": 0, "active": True, "flagged_at": None,
            "backoff_until": None,
        })
    connection.facilities.add(facility)
    return World(user, facility, connection)


FIRST = ["JANE", "JOHN", "MARIA", "WEI", "AMINA", "OLU", "SARA", "LUIS", "ANA", "KOFI"]
LAST = ["DOE", "SMITH", "GARCIA", "CHEN", "OKAFOR", "MWANGI", "NOVAK", "SILVA", "KHAN", "ROSS"]
CLAIM_COLUMNS = ["patientFirstName", "patientLastName", "patientDob", "patientGender",
                 "subscriberId", "subscriberFirstName", "subscriberLastName", "subscriberDob",
                 "billingProviderNpi", "billingProviderName", "taxId", "admitDate",
                 "totalCharges", "payerId", "payerName", "trackingId1"]


def claim_rows(count: int, prefix: str = "BN") -> list[dict[str, str]]:
    """Distinct, valid claim-status rows under the specification's column names; the last
    digit of trackingId1 picks the sandbox's scenario, so outcomes are mixed."""
    rows = []
    today = date.today()
    for i in range(count):
        first, last = FIRST[i % 10], LAST[(i // 10) % 10]
        dob = date(1950 + i % 50, 1 + i % 12, 1 + i % 28).isoformat()
        rows.append({
            "patientFirstName": first, "patientLastName": last, "patientDob": dob,
            "patientGender": "F" if i % 2 else "M", "subscriberId": f"M{i:08d}",
            "subscriberFirstName": first, "subscriberLastName": last, "subscriberDob": dob,
            "billingProviderNpi": BENCH_NPI, "billingProviderName": "Bench General Hospital",
            "taxId": "999887777", "admitDate": (today - timedelta(days=30 + i % 300)).isoformat(),
            "totalCharges": f"{100 + i % 9000}.00", "payerId": "AETNA", "payerName": "AETNA",
            "trackingId1": f"{prefix}{i:06d}",
        })
    return rows


def rows_csv(rows: Iterable[dict[str, str]], columns: Sequence[str] = CLAIM_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def claim_spec() -> Any:
    from revcycle import batches

    return batches.get_spec("claim_status")


# A batch, start to finish ------------------------------------------------------------


@dataclass
class BatchRun:
    batch_id: int
    tickets: int
    started: float  # epoch seconds, before the upload was parsed
    finished: float | None = None  # when the last result was stored
    counts: dict[str, int] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def wall(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


def upload_batch(world: World, rows: list[dict[str, str]], filename: str) -> BatchRun:
    """What the upload view does: parse, validate and queue; then kick the engine."""
    from revcycle import batches, engine

    started = time.time()
    batch = batches.create_batch(claim_spec(), facility=world.facility,
                                 connection=world.connection, user=world.user,
                                 filename=filename, text=rows_csv(rows))
    engine.kick()
    return BatchRun(batch.pk, batch.ticket_count, started)


def wait_for_batch(run: BatchRun, *, timeout: float, report: Callable[[str], None],
                   every: float = 5.0, on_tick: Callable[[], None] | None = None,
                   nap: float = 0.25) -> BatchRun:
    """Wait until no ticket of the batch is open (or the timeout); bounded in time. The
    time it reports is the last result's own (finished_at), not when this noticed it."""
    from django.db.models import Max

    from revcycle.models import Connection, Ticket

    deadline = time.monotonic() + timeout
    last_report = 0.0
    tickets = Ticket.objects.filter(batch_id=run.batch_id)
    while True:
        counts = tickets.counts()
        open_now = sum(counts[s] for s in Ticket.OPEN_STATES)
        if time.monotonic() - last_report >= every:
            report(f"  {time.time() - run.started:5.0f} s: " + ", ".join(
                f"{counts[s]} {s}" for s in Ticket.State.values if counts[s]))
            last_report = time.monotonic()
        if open_now == 0:
            break
        flagged = Connection.objects.filter(batches__id=run.batch_id, flagged_at__isnull=False
                                            ).values_list("flagged_reason", flat=True).first()
        if flagged:
            report(f"  the connection is on hold: {flagged}")
            run.timed_out = True
            break
        if time.monotonic() > deadline:
            run.timed_out = True
            break
        if on_tick:
            on_tick()
        time.sleep(nap)
    run.counts = counts
    last = tickets.aggregate(last=Max("finished_at"))["last"]
    if last is not None and not run.timed_out:
        run.finished = last.timestamp()
    return run


# Numbers and tables ------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Figure:
    section: str
    measure: str
    value: str
    goal: str = ""
    ok: bool | None = None  # None: no goal, or not measured

    @property
    def verdict(self) -> str:
        return {True: "ok", False: "MISSED", None: ""}[self.ok]


def check_figure(section: str, check: Any, *, label: str = "") -> Figure:
    """A row of the table from a benchgoals.Check (its value, goal and verdict)."""
    value = "not measured" if check.value is None else f"{check.value:.2f}{check.unit}"
    measure = f"{label}: {check.measure}" if label else check.measure
    return Figure(section, measure, value, check.goal, check.ok)


def table(figures: Sequence[Figure]) -> str:
    headers = ("section", "measure", "value", "goal", "")
    rows = [(f.section, f.measure, f.value, f.goal, f.verdict) for f in figures]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
             + " |", "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in
                                       zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    cores = os.cpu_count() or 0
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB memory"
    except OSError:
        pass
    return f"{cores} cores{mem}, Python {sys.version.split()[0]}, {database_label()}"


# Many rows, fast ---------------------------------------------------------------------

# Apps whose rows hanging off a ticket are the domain's results, cloned with it.
_NOT_RESULTS = {"revcycle", "auth", "admin", "contenttypes", "sessions", "django_q", "axes",
                "sandbox"}
CLONE_CHUNK = 5000


def _result_relations(model: Any) -> list[tuple[Any, str]]:
    """(child model, its foreign key's attname) for each domain model pointing at `model`."""
    found = []
    for rel in model._meta.related_objects:
        child = rel.related_model
        if child is model or child._meta.app_label in _NOT_RESULTS:
            continue
        if rel.one_to_many or rel.one_to_one:
            found.append((child, rel.field.attname))
    return found


def _copy(obj: Any, **changes: Any) -> Any:
    model = type(obj)
    values = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields
              if not f.primary_key}
    values.update(changes)
    return model(**values)


def _clone_children(parent_model: Any, pairs: list[tuple[Any, Any]]) -> None:
    """Copy the rows under each template parent to its new parent, level by level."""
    for child_model, fk in _result_relations(parent_model):
        templates = {t for t, _ in pairs}
        by_parent: dict[Any, list[Any]] = {}
        for obj in child_model.objects.filter(**{f"{fk}__in": templates}):
            by_parent.setdefault(getattr(obj, fk), []).append(obj)
        if not by_parent:
            continue
        origins, copies = [], []
        for template_pk, new_pk in pairs:
            for obj in by_parent.get(template_pk, ()):
                origins.append(obj.pk)
                copies.append(_copy(obj, **{fk: new_pk}))
        created = child_model.objects.bulk_create(copies, batch_size=2000)
        _clone_children(child_model, [(o, c.pk) for o, c in zip(origins, created, strict=True)])


def clone_tickets(template_ids: list[int], total: int, batch: Any, world: World) -> None:
    """Insert `total` tickets into `batch`, copies of the templates with their domain rows
    (results, service lines); made-up finished tickets when there is no template."""
    from django.db import transaction
    from django.utils import timezone

    from revcycle.models import Ticket

    templates = list(Ticket.objects.filter(pk__in=template_ids)) or [Ticket(
        kind="claim_status", facility=world.facility, connection=world.connection,
        request={"trackingId1": "BENCH"}, state="done", outcome="paid",
        response={"status": "made up by the bench"}, finished_at=timezone.now())]
    for start in range(0, total, CLONE_CHUNK):
        with transaction.atomic():
            pairs, tickets = [], []
            for i in range(start, min(total, start + CLONE_CHUNK)):
                template = templates[i % len(templates)]
                pairs.append(template.pk)
                tickets.append(_copy(template, batch_id=batch.pk, facility_id=world.facility.pk,
                                     connection_id=world.connection.pk,
                                     created_by_id=world.user.pk,
                                     account_number=f"BF{i:07d}", lease_owner="",
                                     lease_until=None, next_poll_at=None))
            created = Ticket.objects.bulk_create(tickets, batch_size=2000)
            if templates[0].pk is not None:
                _clone_children(Ticket, [(t, c.pk) for t, c in
                                         zip(pairs, created, strict=True)])


def payer_claims(world: World, connection: Any, count: int) -> list[str]:
    """Claim ids the webhook events update: the payer domain's claims when its model is
    there (created in bulk), else made-up ids (the receiver answers those 409)."""
    ids = [f"CLM-BENCH-{i:06d}" for i in range(min(count, 5000))]
    try:
        from payer.models import PayerClaim  # type: ignore[import-not-found]
    except ImportError:
        return ids
    fields = {f.name for f in PayerClaim._meta.concrete_fields}
    base = {k: v for k, v in {
        "connection": connection, "facility": world.facility, "created_by": world.user,
        "status": "under_review", "patient_name": "BENCH PATIENT", "insurance_id": "INS-BENCH",
        "diagnosis_code": "J45.909", "amount": 250}.items() if k in fields}
    references = {"reference": lambda c: c} if "reference" in fields else {}
    PayerClaim.objects.bulk_create(
        [PayerClaim(claim_id=c, **base, **{k: f(c) for k, f in references.items()})
         for c in ids], batch_size=2000)
    return ids
