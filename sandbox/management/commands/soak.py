"""`make soak`: a batch under faults, with the worker killed and restarted three times.

The sandbox answers 5% of requests 500, some 429 with Retry-After, and revokes every token
every 100 requests; the engine (`manage.py engine`) is SIGKILLed at random moments and
started again, as its supervisor would. Nothing helps it recover but what runs in
production: the restarted engine takes the dead one's heartbeat row and the expired leases
(ENGINE_LEASE_SECONDS, lowered here to --lease seconds). It then counts tickets lost,
submitted twice (from the sandbox's own record of the POSTs it took, per trackingId1) and
stuck, and compares the time to finish with a fault-free batch. Exits 1 when a goal fails.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox import benchkit as kit
from sandbox.benchkit import Figure
from sandbox.management.commands.bench import prepare_database, production_env, start_services


class Command(BaseCommand):
    help = "A 1,000-ticket batch under sandbox faults and worker kills; asserts nothing is lost."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tickets", type=int, default=1000)
        parser.add_argument("--latency-ms", type=int, default=200)
        parser.add_argument("--ready-after", type=float, default=5.0)
        parser.add_argument("--poll-interval", type=int, default=15)
        parser.add_argument("--error-rate", type=float, default=0.05)
        parser.add_argument("--rate-429", type=float, default=0.01)
        parser.add_argument("--retry-after", type=int, default=2)
        parser.add_argument("--revoke-every", type=int, default=100)
        parser.add_argument("--kills", type=int, default=3)
        parser.add_argument("--kill-window", type=float, default=40.0,
                            help="Kills fall at random moments within this many seconds.")
        parser.add_argument("--lease", type=int, default=20,
                            help="ENGINE_LEASE_SECONDS for the worker.")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--timeout", type=float, default=600.0)
        parser.add_argument("--no-baseline", action="store_true",
                            help="Skip the fault-free batch run first for comparison.")

    def handle(self, *args: Any, **options: Any) -> None:
        kit.reexec_on_own_database(
            "soak", {**production_env(), "ENGINE_LEASE_SECONDS": str(options["lease"])})
        prepare_database(self.stdout)
        self.opts = options
        seed = options["seed"] if options["seed"] is not None else random.randrange(10**6)
        self.rng = random.Random(seed)
        self.stdout.write(f"Seed {seed} (rerun with --seed {seed}); lease "
                          f"{settings.ENGINE_LEASE_SECONDS} s")
        self.figures: list[Figure] = []
        log_dir = Path(settings.VAR_DIR) / "logs"
        with kit.Processes(log_dir) as procs:
            self.procs = procs
            self.sandbox_root, _ = start_services(procs, sandbox_threads=64, app_threads=4)
            self.world = kit.make_world(self.sandbox_root,
                                        poll_interval=options["poll_interval"],
                                        concurrency=16)
            baseline = None if options["no_baseline"] else self._baseline()
            self._soak(baseline)
        self.stdout.write("")
        self.stdout.write(f"Machine: {kit.machine_line()}")
        self.stdout.write(kit.table(self.figures))
        missed = [f for f in self.figures if f.ok is False]
        if missed:
            raise CommandError(f"{len(missed)} goal(s) missed: "
                               + "; ".join(f.measure for f in missed))

    def _knobs(self, **faults: Any) -> None:
        o = self.opts
        kit.sandbox_knobs(self.sandbox_root, latency_ms=o["latency_ms"],
                          ready_after=o["ready_after"], **faults)
        time.sleep(1.2)  # the sandbox re-reads its knobs about once a second

    def _baseline(self) -> float | None:
        self.stdout.write(self.style.MIGRATE_HEADING("== fault-free batch"))
        self._knobs()
        run = kit.upload_batch(self.world, kit.claim_rows(self.opts["tickets"], prefix="FF"),
                               "fault-free.csv")
        kit.wait_for_batch(run, timeout=self.opts["timeout"], report=self.stdout.write)
        self.figures.append(Figure("baseline", "fault-free batch: upload to last result",
                                   "timed out" if run.wall is None else f"{run.wall:.1f} s"))
        return run.wall

    def _soak(self, baseline: float | None) -> None:
        from revcycle.models import Ticket

        o = self.opts
        self.stdout.write(self.style.MIGRATE_HEADING("== soak"))
        self._knobs(error_rate=o["error_rate"], rate_429=o["rate_429"],
                    retry_after=o["retry_after"], revoke_every=o["revoke_every"])
        kit.sandbox_reset_stats(self.sandbox_root)
        prefix = "SK"
        kills = self._kill_plan()
        self.stdout.write("Worker kills planned at " + ", ".join(f"{k:.1f} s" for k in kills))
        run = kit.upload_batch(self.world, kit.claim_rows(o["tickets"], prefix=prefix),
                               "soak.csv")
        killed_at: list[float] = []

        def maybe_kill() -> None:
            elapsed = time.time() - run.started
            if kills and elapsed >= kills[0]:
                kills.pop(0)
                self.procs.kill("worker")
                killed_at.append(elapsed)
                self.stdout.write(f"  {elapsed:5.1f} s: worker killed (SIGKILL to its group)")
                time.sleep(self.rng.uniform(0.5, 3.0))
                self.procs.start("worker", kit.engine_argv(), kit.child_env())
                self.stdout.write(f"  {time.time() - run.started:5.1f} s: worker restarted")

        kit.wait_for_batch(run, timeout=o["timeout"], report=self.stdout.write,
                           on_tick=maybe_kill)
        tickets = Ticket.objects.filter(batch_id=run.batch_id)
        counts = tickets.counts()
        stats = kit.sandbox_stats(self.sandbox_root)["by_service"].get("integrex", {})
        twice, explained = self._submitted_twice(prefix, tickets)
        done = counts["done"]
        stuck = sum(counts[s] for s in Ticket.OPEN_STATES)
        lost = o["tickets"] - done - stuck
        add = self.figures.append
        add(Figure("soak", "worker kills (SIGKILL + restart)",
                   f"{len(killed_at)} at " + ", ".join(f"{k:.0f}" for k in killed_at) + " s",
                   str(o["kills"]), len(killed_at) == o["kills"]))
        add(Figure("soak", "sandbox faults served",
                   f"{stats.get('requests', 0)} requests, tokens {stats.get('token_requests', 0)}"))
        add(Figure("soak", "tickets lost (failed, expired or missing)", str(lost), "0",
                   lost == 0))
        add(Figure("soak", "tickets submitted twice", f"{twice} ({explained} explained)",
                   "0, or each explained", twice == explained))
        add(Figure("soak", "tickets stuck (still open)", str(stuck), "0", stuck == 0))
        wall = run.wall
        add(Figure("soak", "time to finish", "timed out" if wall is None else f"{wall:.1f} s"))
        if wall and baseline:
            add(Figure("soak", "compared with the fault-free batch", f"{wall / baseline:.1f}x"))
        if lost:
            reasons = Counter(tickets.filter(state__in=["failed", "expired"])
                              .values_list("last_error", flat=True))
            for reason, n in reasons.most_common(5):
                self.stdout.write(f"  lost x{n}: {reason[:150]}")

    def _kill_plan(self) -> list[float]:
        """`kills` moments in the window, at least 8 s apart so each restart has settled."""
        o = self.opts
        for _ in range(1000):
            moments = sorted(self.rng.uniform(2.0, o["kill_window"]) for _ in range(o["kills"]))
            if all(b - a >= 8 for a, b in zip(moments, moments[1:], strict=False)):
                return moments
        return [2.0 + 10 * i for i in range(o["kills"])]

    def _submitted_twice(self, prefix: str, tickets: Any) -> tuple[int, int]:
        """Remote tickets per trackingId1 from the sandbox's own table; a second one is
        explained when our ticket shows more than one submit attempt (a POST whose answer
        was lost: the worker died, or the connection dropped, while it was in flight)."""
        posts = kit.sandbox_posts(prefix)
        doubled = {t for t, n in posts.items() if n > 1}
        if not doubled:
            return 0, 0
        attempts = dict(tickets.filter(account_number__in=doubled)
                        .values_list("account_number", "attempts"))
        explained = sum(1 for t in doubled if attempts.get(t, 0) > 1)
        for t in sorted(doubled):
            self.stdout.write(f"  {t}: {posts[t]} remote tickets, {attempts.get(t, 0)} attempts")
        return len(doubled), explained
