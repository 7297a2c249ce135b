"""`make bench`: the figures of docs/performance.md, measured on this machine.

Runs on a database of its own (see sandbox/benchkit.py) with DEBUG off, the sandbox served
by its own gunicorn (threads enough that its latency is the only wait), the app by another
gunicorn, and the engine by `manage.py engine`. Sections: batch, naive, screens, export,
webhooks, scale (`--only` picks some). Prints one table; exits 1 when a goal is missed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from sandbox import bench_screens, benchseed
from sandbox import benchgoals as goals
from sandbox import benchkit as kit
from sandbox import benchtimeline as timeline
from sandbox.benchkit import Figure

# scale last: it replaces the one worker with two engine processes.
SECTIONS = ("batch", "naive", "screens", "export", "webhooks", "scale")


def production_env() -> dict[str, str]:
    """DEBUG off, as in production, with throwaway keys for this run's own database."""
    from cryptography.fernet import Fernet

    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "SANDBOX_ENABLED": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver", "LOG_LEVEL": "WARNING",
            # The sandbox is served over plain HTTP on loopback; oauthlib refuses to fetch
            # a token from an http:// URL without this.
            "OAUTHLIB_INSECURE_TRANSPORT": "1"}


def prepare_database(stdout: Any) -> None:
    call_command("migrate", verbosity=0)
    if not settings.DEBUG:
        call_command("collectstatic", verbosity=0, interactive=False)
    stdout.write(f"Database: {settings.DATABASES['default']['NAME']} ({kit.database_label()})")


def start_services(procs: kit.Processes, *, sandbox_threads: int, app_threads: int,
                   worker_env: dict[str, str] | None = None) -> tuple[str, str]:
    """The sandbox and the app on free loopback ports, and the worker; returns their roots."""
    sandbox_port, app_port = kit.free_port(), kit.free_port()
    # The sandbox's processes count requests in flight together (the cap's proof).
    in_flight_file = Path(settings.VAR_DIR) / "sandbox-in-flight.json"
    in_flight_file.unlink(missing_ok=True)
    # The batch's timeline (sandbox.benchtimeline): the sandbox logs its requests, the
    # engine traces its claims and steps.
    for log_file in (request_log_path(), engine_trace_path()):
        log_file.unlink(missing_ok=True)
    sandbox_env = kit.child_env(SANDBOX_IN_FLIGHT_FILE=str(in_flight_file),
                                SANDBOX_REQUEST_LOG=str(request_log_path()))
    sandbox_url = kit.sandbox_database_url()
    if sandbox_url:
        path = Path(sandbox_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        sandbox_env["DATABASE_URL"] = sandbox_url
        subprocess.run(kit.manage_argv("migrate", "--noinput", "-v0"), env=sandbox_env,
                       check=True)
    elif "DATABASE_URL" in sandbox_env:
        # The stand-in shares the PostgreSQL server: its bookkeeping need not wait for the
        # disk at each commit, or the stand-in, not revcycle, sets the pace. Its backends
        # are named, so the scale run can tell the server's CPU for it from the engines'.
        sandbox_env["DATABASE_URL"] = kit.with_query(
            sandbox_env["DATABASE_URL"], options="-c synchronous_commit=off",
            application_name=SANDBOX_DB_NAME)
        # A few pooled connections per process, given back while a request sleeps its
        # latency: the engines' threads each hold one, and max_connections is 100.
        sandbox_env.update(DATABASE_POOL="1", DATABASE_POOL_MAX_SIZE="6")
    workers = kit.sandbox_workers(db.vendor, os.environ)
    # Served alone (sandbox.wsgi: its own URLs and the middleware its endpoints show),
    # not through the app's whole stack: the stand-in's CPU is not revcycle's.
    sandbox = procs.start("sandbox", kit.gunicorn_argv(sandbox_port, threads=sandbox_threads,
                                                       workers=workers, app="sandbox.wsgi"),
                          sandbox_env)
    app = procs.start("app", kit.gunicorn_argv(app_port, threads=app_threads), kit.child_env())
    procs.start("worker", kit.engine_argv(), kit.child_env(
        ENGINE_TRACE_FILE=str(engine_trace_path()), **(worker_env or {})))
    sandbox_root = f"http://{kit.LOOPBACK}:{sandbox_port}/sandbox"
    app_root = f"http://{kit.LOOPBACK}:{app_port}"
    kit.wait_http(f"{sandbox_root}/stats", child=sandbox)
    kit.wait_http(f"{app_root}/healthz", child=app)
    wait_for_engines(1)
    return sandbox_root, app_root


# application_name of the sandbox's and the scale engines' PostgreSQL connections.
SANDBOX_DB_NAME, ENGINE_DB_NAME = "bench-sandbox", "bench-engine"


def request_log_path() -> Path:
    return Path(settings.VAR_DIR) / "sandbox-requests.jsonl"


def engine_trace_path() -> Path:
    return Path(settings.VAR_DIR) / "engine-trace.jsonl"


def wait_for_engines(count: int, timeout: float = 120.0) -> None:
    """Until `count` engines hold a row: their start-up (imports, checks) is over, so the
    CPU measured from here on is the engines' work, not their loading."""
    from revcycle.models import EnginePump

    deadline = time.monotonic() + timeout
    while EnginePump.objects.exclude(owner="").count() < count:
        if time.monotonic() > deadline:
            raise CommandError(f"{count} engine(s) did not start within {timeout:.0f} s")
        time.sleep(0.2)


def load_figure(section: str, before: tuple[float, ...]) -> Figure:
    """The load average around a run: wall-clock figures mean little on a busy machine."""
    after = os.getloadavg()
    return Figure(section, "load average (1 min) at start / end",
                  f"{before[0]:.1f} / {after[0]:.1f} on {os.cpu_count()} cores")


class Command(BaseCommand):
    help = "Measure batch speed, screens, export and webhooks against the sandbox."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--only", action="append", choices=SECTIONS,
                            help="Run only these sections (repeatable).")
        parser.add_argument("--tickets", type=int, default=1000)
        parser.add_argument("--latency-ms", type=int, default=200)
        parser.add_argument("--ready-after", type=float, default=5.0)
        parser.add_argument("--poll-interval", type=int, default=15)
        parser.add_argument("--in-flight", type=int, default=16,
                            help="The connection's max concurrency (and the ideal's divisor).")
        parser.add_argument("--batch-timeout", type=float, default=300.0)
        parser.add_argument("--naive-sample", type=int, default=5)
        parser.add_argument("--naive-poll", type=float, default=1.0,
                            help="The naive script's sleep between polls, in seconds.")
        parser.add_argument("--screen-rows", type=int, default=1_000_000,
                            help="Claim-status tickets seeded for the screens and the export "
                                 "(a fifth as many discovery lookups, a tenth as many payer "
                                 "claims).")
        parser.add_argument("--screen-requests", type=int, default=30,
                            help="Requests measured per screen and page.")
        parser.add_argument("--webhook-count", type=int, default=3000)
        parser.add_argument("--webhook-seconds", type=float, default=20.0)
        parser.add_argument("--webhook-threads", type=int, default=4)
        parser.add_argument("--scale-tickets", type=int, default=10_000)
        parser.add_argument("--scale-in-flight", type=int, default=64,
                            help="The scale run's connection cap (and T*'s c).")
        parser.add_argument("--scale-engines", type=int, default=2)
        parser.add_argument("--scale-threads", type=int, default=34,
                            help="Threads per engine in the scale run: together more than "
                                 "the cap, so the cap is what holds them back. Each holds a "
                                 "PostgreSQL connection (max_connections is 100 by default).")
        parser.add_argument("--scale-timeout", type=float, default=1200.0)
        parser.add_argument("--report-only", action="store_true",
                            help="Print the figures and goals but never exit non-zero.")
        parser.add_argument("--json", dest="json_path", default="",
                            help="Also write the figures to this JSON file.")

    def handle(self, *args: Any, **options: Any) -> None:
        kit.reexec_on_own_database("bench", production_env())
        prepare_database(self.stdout)
        sections = options["only"] or list(SECTIONS)
        self.figures: list[Figure] = []
        self.world: kit.World | None = None
        self.opts = options
        log_dir = Path(settings.VAR_DIR) / "logs"
        with kit.Processes(log_dir) as procs:
            self.procs = procs
            # A thread per request in flight in each sandbox process: the processes share
            # the engines' connections unevenly, and a request waiting for a thread waits
            # outside the latency the sandbox logs.
            in_flight = max(options["in_flight"],
                            options["scale_in_flight"] if "scale" in sections else 0)
            self.sandbox_root, self.app_root = start_services(
                procs, sandbox_threads=max(32, in_flight), app_threads=16)
            self.stdout.write(f"Sandbox at {self.sandbox_root} "
                              f"({kit.sandbox_workers(db.vendor, os.environ)} process(es), "
                              f"BENCH_SANDBOX_WORKERS), app at {self.app_root}; "
                              f"logs in {log_dir}")
            for section in SECTIONS:
                if section in sections:
                    self._run_section(section)
        self._finish()

    def _run_section(self, section: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"== {section}"))
        started = time.monotonic()
        try:
            getattr(self, f"section_{section}")()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the rest
            self.figures.append(Figure(section, "error", f"{type(exc).__name__}: {exc}"[:160],
                                       "runs", False))
            self.stderr.write(f"{section} failed: {type(exc).__name__}: {exc}")
        self.stdout.write(f"   ({time.monotonic() - started:.0f} s)")

    def _finish(self) -> None:
        self.stdout.write("")
        self.stdout.write(f"Machine: {kit.machine_line()}")
        self.stdout.write(kit.table(self.figures))
        if self.opts["json_path"]:
            Path(self.opts["json_path"]).write_text(json.dumps(
                [f.__dict__ for f in self.figures], indent=2))
        missed = [f for f in self.figures if f.ok is False]
        status = goals.exit_status([f.ok for f in self.figures],
                                   report_only=self.opts["report_only"])
        if missed:
            self.stdout.write(f"{len(missed)} goal(s) missed"
                              + (" (--report-only: exit 0)" if not status else ""))
        if status:
            raise CommandError(f"{len(missed)} goal(s) missed: "
                               + "; ".join(f"{f.section} {f.measure}" for f in missed))

    def _world(self) -> kit.World:
        if self.world is None:
            self.world = kit.make_world(self.sandbox_root, poll_interval=self.opts["poll_interval"],
                                        concurrency=self.opts["in_flight"])
        return self.world

    # Batch --------------------------------------------------------------------------

    def section_batch(self) -> None:
        o = self.opts
        kit.sandbox_knobs(self.sandbox_root, latency_ms=o["latency_ms"],
                          ready_after=o["ready_after"])
        kit.sandbox_reset_stats(self.sandbox_root)
        time.sleep(1.2)  # the sandbox re-reads its knobs about once a second
        world = self._world()
        load = os.getloadavg()
        cpu_before = self.procs.cpu_seconds()
        jiffies = timeline.cpu_jiffies()
        run = kit.upload_batch(world, kit.claim_rows(o["tickets"]), "bench.csv")
        self.stdout.write(f"  batch {run.batch_id}: {run.tickets} tickets queued in "
                          f"{time.time() - run.started:.1f} s")
        kit.wait_for_batch(run, timeout=o["batch_timeout"], report=self.stdout.write)
        cpu = {k: v - cpu_before.get(k, 0) for k, v in self.procs.cpu_seconds().items()}
        busy = timeline.utilisation(jiffies, timeline.cpu_jiffies())
        stats = kit.sandbox_stats(self.sandbox_root)["by_service"].get("integrex", {})
        self.batch_run, self.batch_stats = run, stats
        requests_total = stats.get("posts", 0) + stats.get("gets", 0)
        latency = o["latency_ms"] / 1000
        floor = goals.floor_seconds(tickets=run.tickets, latency=latency,
                                    in_flight=o["in_flight"], interval=o["poll_interval"])
        capacity = goals.capacity_per_second(latency=latency, in_flight=o["in_flight"])
        add = self.figures.append
        n = run.tickets or 1
        wall = run.wall
        add(Figure("batch", "T* = max(2nL/c, nL/c + I + L)",
                   f"{floor:.1f} s (n={run.tickets}, L={latency:g} s, c={o['in_flight']}, "
                   f"I={o['poll_interval']} s)"))
        add(Figure("batch", f"{run.tickets} tickets: upload to last result",
                   "timed out" if wall is None else f"{wall:.1f} s",
                   f"<= {goals.BATCH_RATIO_MAX:g} T* = {goals.BATCH_RATIO_MAX * floor:.1f} s",
                   wall is not None and wall <= goals.BATCH_RATIO_MAX * floor))
        checks = goals.batch_checks(wall=wall, floor=floor, worker_cpu=cpu.get("worker"),
                                    requests=requests_total)
        for check in checks:
            add(kit.check_figure("batch", check))
        if wall:
            add(Figure("batch", "API requests per second / capacity c/L",
                       f"{requests_total / wall:.1f} / {capacity:.0f} "
                       f"({requests_total / wall / capacity:.0%})"))
        add(Figure("batch", "tickets done / failed / open",
                   f"{run.counts.get('done', 0)} / {run.counts.get('failed', 0)} / "
                   f"{sum(run.counts.get(s, 0) for s in ('queued', 'submitted', 'processing'))}",
                   f"{run.tickets} / 0 / 0", run.counts.get("done", 0) == run.tickets))
        add(Figure("batch", "POSTs per ticket", f"{stats.get('posts', 0) / n:.2f}", "1",
                   stats.get("posts", 0) == run.tickets))
        max_gets = o["ready_after"] / o["poll_interval"] + 1
        add(Figure("batch", "GETs per ticket", f"{stats.get('gets', 0) / n:.2f}",
                   f"<= {max_gets:.2f}", stats.get("gets", 0) / n <= max_gets))
        add(Figure("batch", "token requests (whole batch)", str(stats.get("token_requests", 0)),
                   "1", stats.get("token_requests", 0) == 1))
        add(Figure("batch", "CPU s: worker / sandbox / app",
                   f"{cpu.get('worker', 0):.1f} / {cpu.get('sandbox', 0):.1f} / "
                   f"{cpu.get('app', 0):.1f}"))
        add(load_figure("batch", load))
        self._timeline(run, cpu, busy)

    def _timeline(self, run: kit.BatchRun, cpu: dict[str, float], busy: float) -> None:
        """Where the batch's time went (sandbox/benchtimeline.py): printed, no goals."""
        o = self.opts
        rows = timeline.request_figures(
            timeline.read_events(request_log_path(), run.started), started=run.started,
            tickets=run.tickets, latency=o["latency_ms"] / 1000, in_flight=o["in_flight"],
            ready_after=o["ready_after"], interval=o["poll_interval"])
        rows += timeline.engine_figures(timeline.read_events(engine_trace_path(), run.started))
        rows += timeline.cpu_figures(engine=cpu.get("worker", 0), sandbox=cpu.get("sandbox", 0),
                                     wall=run.wall or time.time() - run.started,
                                     cores=os.cpu_count() or 1, busy=busy)
        for measure, value in rows:
            self.figures.append(Figure("timeline", measure, value))

    # Scale: many tickets, two engine processes -----------------------------------------

    def section_scale(self) -> None:
        from revcycle.models import Connection, Ticket

        o = self.opts
        if db.vendor != "postgresql":
            self.figures.append(Figure("scale", "two engines on one database",
                                       "skipped: needs PostgreSQL (DATABASE_URL=postgres://...)"))
            return
        cap, engines = o["scale_in_flight"], o["scale_engines"]
        kit.sandbox_knobs(self.sandbox_root, latency_ms=o["latency_ms"],
                          ready_after=o["ready_after"])
        time.sleep(1.2)  # the sandbox re-reads its knobs about once a second
        # The one worker of the other sections makes way for `engines` processes.
        self.procs.stop("worker")
        world = kit.make_world(self.sandbox_root, poll_interval=o["poll_interval"],
                               concurrency=cap)
        # Held back until every engine runs, so none takes the whole batch alone.
        Connection.objects.filter(pk=world.connection.pk).update(
            backoff_until=timezone.now() + timedelta(hours=1))
        run = kit.upload_batch(world, kit.claim_rows(o["scale_tickets"], prefix="SC"),
                               "scale.csv")
        self.stdout.write(f"  batch {run.batch_id}: {run.tickets} tickets queued in "
                          f"{time.time() - run.started:.1f} s")
        names = [f"engine-{n}" for n in range(1, engines + 1)]
        engine_env = kit.child_env(DATABASE_URL=kit.with_query(
            os.environ["DATABASE_URL"], application_name=ENGINE_DB_NAME),
            ENGINE_TRACE_FILE=str(engine_trace_path()))
        for name in names:
            self.procs.start(name, kit.manage_argv("engine", "--threads",
                                                   str(o["scale_threads"])), engine_env)
        wait_for_engines(engines)
        kit.sandbox_reset_stats(self.sandbox_root)
        load = os.getloadavg()
        cpu_before = self.procs.cpu_seconds()
        pg_before, jiffies = kit.postgres_cpu(), timeline.cpu_jiffies()
        run.started = time.time()  # from the release: the upload is the batch section's
        Connection.objects.filter(pk=world.connection.pk).update(backoff_until=None)
        # Asked once a second, not four times: the time is the last result's finished_at,
        # and this process's count of 10,000 rows competes with the run for the cores.
        kit.wait_for_batch(run, timeout=o["scale_timeout"], report=self.stdout.write,
                           every=15.0, nap=1.0)
        cpu_after = self.procs.cpu_seconds()
        pg_used = kit.postgres_cpu_by_role(pg_before, kit.postgres_cpu(), kit.postgres_roles())
        busy = timeline.utilisation(jiffies, timeline.cpu_jiffies())
        engine_cpu = sum(cpu_after.get(n, 0) - cpu_before.get(n, 0) for n in names)
        stats = kit.sandbox_stats(self.sandbox_root)
        service = stats["by_service"].get("integrex", {})
        posts = kit.sandbox_posts("SC")
        double_posts = sum(n - 1 for n in posts.values() if n > 1)
        done = Ticket.objects.filter(batch_id=run.batch_id, state=Ticket.State.DONE).count()
        latency = o["latency_ms"] / 1000
        floor = goals.floor_seconds(tickets=run.tickets, latency=latency, in_flight=cap,
                                    interval=o["poll_interval"])
        requests_total = service.get("posts", 0) + service.get("gets", 0)
        add = self.figures.append
        add(Figure("scale", "T* = max(2nL/c, nL/c + I + L)",
                   f"{floor:.1f} s (n={run.tickets}, L={latency:g} s, c={cap}, "
                   f"I={o['poll_interval']} s)"))
        add(Figure("scale", f"{run.tickets} tickets, {engines} engines x "
                   f"{o['scale_threads']} threads: release to last result",
                   "timed out" if run.wall is None else f"{run.wall:.1f} s",
                   f"<= {goals.SCALE_RATIO_MAX:g} T* = {goals.SCALE_RATIO_MAX * floor:.1f} s",
                   run.wall is not None and run.wall <= goals.SCALE_RATIO_MAX * floor))
        for check in goals.scale_checks(
                wall=run.wall, floor=floor, double_posts=double_posts,
                peak=stats["in_flight_peak"].get("integrex"), cap=cap,
                not_done=run.tickets - done):
            add(kit.check_figure("scale", check))
        once = sum(1 for n in posts.values() if n == 1)
        add(Figure("scale", "tickets with exactly one POST", str(once), str(run.tickets),
                   once == run.tickets))
        for check in goals.batch_checks(wall=None, floor=floor, worker_cpu=engine_cpu,
                                        requests=requests_total)[1:]:
            add(kit.check_figure("scale", check, label="engines"))
        if run.wall:
            capacity = goals.capacity_per_second(latency=latency, in_flight=cap)
            add(Figure("scale", "API requests per second / capacity c/L",
                       f"{requests_total / run.wall:.1f} / {capacity:.0f} "
                       f"({requests_total / run.wall / capacity:.0%})"))
        sandbox_cpu = cpu_after.get("sandbox", 0) - cpu_before.get("sandbox", 0)
        add(Figure("scale", "CPU s: engines / sandbox",
                   f"{engine_cpu:.1f} / {sandbox_cpu:.1f}"))
        self._scale_cost(engine_cpu, sandbox_cpu, pg_used, requests_total)
        add(load_figure("scale", load))
        wall = run.wall or time.time() - run.started
        rows = timeline.request_figures(
            timeline.read_events(request_log_path(), run.started), started=run.started,
            tickets=run.tickets, latency=latency, in_flight=cap,
            ready_after=o["ready_after"], interval=o["poll_interval"])
        rows += timeline.occupancy_figures(
            timeline.read_events(request_log_path(), run.started), wall=wall, cap=cap)
        trace = timeline.read_events(engine_trace_path(), run.started)
        rows += timeline.engine_figures(trace)
        rows += timeline.step_occupancy(trace, wall=wall)
        rows.append(("machine CPU busy (/proc/stat, every process)",
                     f"{busy:.0%} of {os.cpu_count()} cores"))
        for measure, value in rows:
            add(Figure("scale timeline", measure, value))

    def _scale_cost(self, engine_cpu: float, sandbox_cpu: float, pg_used: dict[str, float],
                    requests: int) -> None:
        """The CPU each API request cost, the PostgreSQL server's share included: the scale
        run is CPU-bound, so these per-request costs set its pace."""
        pg_ours = {role: seconds for role, seconds in pg_used.items()
                   if role != "other database"}
        add = self.figures.append
        add(Figure("scale", "CPU s: PostgreSQL for engines / sandbox / bench / server",
                   " / ".join(f"{pg_ours.get(role, 0):.1f}" for role in
                              (ENGINE_DB_NAME, SANDBOX_DB_NAME, "bench", "server"))
                   + f" (other databases: {pg_used.get('other database', 0):.1f})"))
        if requests:
            total = engine_cpu + sandbox_cpu + sum(pg_ours.values())
            add(Figure("scale", "CPU ms per API request: engines / sandbox / PostgreSQL / all",
                       f"{engine_cpu / requests * 1000:.2f} / {sandbox_cpu / requests * 1000:.2f}"
                       f" / {sum(pg_ours.values()) / requests * 1000:.2f}"
                       f" / {total / requests * 1000:.2f}"))

    # The naive way ------------------------------------------------------------------

    def section_naive(self) -> None:
        import requests

        from sandbox.credentials import integrex_client

        o = self.opts
        kit.sandbox_knobs(self.sandbox_root, latency_ms=o["latency_ms"],
                          ready_after=o["ready_after"])
        time.sleep(1.2)
        base = f"{self.sandbox_root}/integrex/api/v2"
        client_id, secret = integrex_client()
        rows = kit.claim_rows(o["naive_sample"], prefix="NV")
        times = []
        for row in rows:
            started = time.monotonic()
            # One token per ticket, a fresh connection per call, sleep, poll: a first script.
            token = requests.post(f"{base}/auth", data={"grant_type": "client_credentials"},
                                  auth=(client_id, secret), timeout=30).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "env": "T"}
            remote = requests.post(f"{base}/claim-info", json=row, headers=headers,
                                   timeout=30).json()["id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(o["naive_poll"])
                answer = requests.get(f"{base}/claim-info", params={"id": remote},
                                      headers=headers, timeout=30)
                if answer.status_code != 202:
                    break
            times.append(time.monotonic() - started)
        per_ticket = sum(times) / len(times)
        tickets = o["tickets"]
        projected = per_ticket * tickets
        self.figures.append(Figure("naive", f"sequential script, {len(times)}-ticket sample",
                                   f"{per_ticket:.2f} s per ticket"))
        self.figures.append(Figure("naive", f"projected for {tickets} tickets",
                                   f"{projected / 60:.0f} min"))
        wall = getattr(self, "batch_run", None) and self.batch_run.wall
        if wall:
            self.figures.append(Figure("naive", "speed-up of the engine",
                                       f"{projected / wall:.0f}x"))

    # Screens and export (issue 18) -----------------------------------------------------

    def _screen_data(self) -> tuple[Any, Any]:
        """(a biller, the biggest claim-status batch), seeded once for both sections."""
        if getattr(self, "screen_data", None) is None:
            world = self._world()
            # The biller owns the batches: billers see only their own on the batch page.
            biller = bench_biller(world)
            world = kit.World(biller, world.facility, world.connection)
            rows = self.opts["screen_rows"]
            started = time.monotonic()
            seeded = benchseed.seed(world, rows, report=self.stdout.write,
                                    payer_claims=rows // 10)
            seconds = time.monotonic() - started
            self.figures.append(Figure("screens", "rows seeded (claim status / discovery / "
                                       "payer claims)",
                                       f"{seeded.counts.get('claim_status', 0):,} / "
                                       f"{seeded.counts.get('discovery', 0):,} / "
                                       f"{seeded.counts.get('payer claims', 0):,} in "
                                       f"{seconds:.0f} s"))
            self.screen_data = (biller, seeded.batches[0])
        return self.screen_data

    def section_screens(self) -> None:
        biller, batch = self._screen_data()
        load = os.getloadavg()
        self.figures += bench_screens.run_screens(biller, batch.pk, self.opts["screen_requests"],
                                                  self.stdout.write)
        self.figures.append(load_figure("screens", load))

    def section_export(self) -> None:
        from revcycle.models import Ticket

        biller, _batch = self._screen_data()
        expected = Ticket.objects.filter(kind="claim_status").count()
        load = os.getloadavg()
        self.figures += bench_screens.run_export(biller, reverse("claims:status_export"),
                                                 expected, report=self.stdout.write)
        self.figures.append(load_figure("export", load))

    # Webhooks -----------------------------------------------------------------------

    def section_webhooks(self) -> None:
        o = self.opts
        hook = webhook_target(self._world(), self.app_root, o["webhook_count"])
        result = post_webhooks(hook, count=o["webhook_count"], seconds=o["webhook_seconds"],
                               threads=o["webhook_threads"])
        ok = result["statuses"].get(200, 0)
        self.figures.append(Figure(
            "webhooks", f"signed deliveries ({o['webhook_threads']} threads, loopback)",
            f"{ok / result['seconds']:.0f} /s ({ok} in {result['seconds']:.1f} s)"))
        self.figures.append(Figure(
            "webhooks", "median / p95 latency",
            f"{kit.median(result['latencies']):.1f} / "
            f"{kit.percentile(result['latencies'], 95):.1f} ms"))
        bad = {k: v for k, v in result["statuses"].items() if k != 200}
        self.figures.append(Figure("webhooks", "answers other than 200",
                                   json.dumps(bad) if bad else "none", "none", not bad))


# Screens helpers -----------------------------------------------------------------------


def bench_biller(world: kit.World) -> Any:
    """A biller of the bench facility: billers need no second factor, managers do (the
    screens would answer them with a redirect to the authenticator set-up)."""
    from django.contrib.auth.models import Group, User

    user, created = User.objects.get_or_create(username="bench-biller")
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.set(Group.objects.filter(name="biller"))
    world.facility.members.add(user)
    return user


# Webhook helpers -----------------------------------------------------------------------


def webhook_target(world: kit.World, app_root: str, count: int) -> dict[str, Any]:
    """A payer connection with a webhook secret, and claims for the events to update."""
    from revcycle.models import Connection
    from sandbox.benchkit import payer_claims

    secret = secrets.token_urlsafe(32)
    connection, _ = Connection.objects.update_or_create(
        name="Bench payer", defaults={"kind": "payer", "base_url": "http://127.0.0.1:9/api",
                                      "api_key": "bench", "provider_id": "BENCH-PROV",
                                      "webhook_secret": secret})
    connection.facilities.add(world.facility)
    claim_ids = payer_claims(world, connection, count)
    return {"url": f"{app_root}/claims/payer/webhooks/{connection.pk}/", "secret": secret,
            "claim_ids": claim_ids}


def signed_delivery(secret: str, claim_id: str) -> tuple[bytes, dict[str, str]]:
    """One claim_status_update as the payer signs it (sandbox/signing.py)."""
    from sandbox.signing import sign_body, sign_header

    event_id = str(uuid.uuid4())
    payload = {"event_type": "claim_status_update", "event_id": event_id,
               "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "claim_id": claim_id, "previous_status": "under_review",
               "new_status": "approved", "message": "Claim approved after validation",
               "processed_by": "claims_reviewer", "provider_id": "BENCH-PROV", "amount": 250.0,
               "payment_details": {"approved_amount": 200.0, "patient_responsibility": 50.0,
                                   "expected_payment_date": "2026-01-01",
                                   "payment_method": "ACH"}}
    payload["webhook_signature"] = sign_body(secret, payload)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    return raw, {"Content-Type": "application/json", "X-Webhook-Id": event_id,
                 "X-Webhook-Event": "claim_status_update",
                 "X-Webhook-Timestamp": str(timestamp),
                 "X-Webhook-Signature": sign_header(secret, timestamp, raw)}


def post_webhooks(hook: dict[str, Any], *, count: int, seconds: float,
                  threads: int) -> dict[str, Any]:
    """POST up to `count` signed deliveries from `threads` threads for at most `seconds`."""
    import requests

    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = [0]
    deadline = time.monotonic() + seconds
    claim_ids = hook["claim_ids"]

    def worker() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= count:
                    return
                i = sent[0]
                sent[0] += 1
            raw, headers = signed_delivery(hook["secret"], claim_ids[i % len(claim_ids)])
            started = time.perf_counter()
            try:
                status = session.post(hook["url"], data=raw, headers=headers,
                                      timeout=30).status_code
            except requests.RequestException:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=seconds + 60)
    return {"latencies": latencies, "statuses": statuses,
            "seconds": time.monotonic() - started}
