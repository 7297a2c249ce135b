"""Run mutmut over one module with only the tests that guard it: `make mutants MODULE=...`.

mutmut 3 reads one configuration from pyproject.toml ([tool.mutmut]); the module to mutate
and the tests to run differ per module, so this script sets both on mutmut's configuration
object before handing over to its command line. Each module starts from a clean mutants/
directory (the test-to-function map collected for one module's tests is wrong for another).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

# Where a bug costs money or privacy, and the tests that must notice it.
GUARDS: dict[str, list[str]] = {
    "revcycle/crypto.py": ["tests/core/test_secrets_are_encrypted.py",
                           "tests/core/test_crypto.py"],
    "revcycle/roles.py": ["tests/core/test_access_and_roles.py", "tests/core/test_roles.py",
                          "tests/core/test_every_url_and_role.py"],
    "revcycle/access.py": ["tests/core/test_access_and_roles.py",
                           "tests/core/test_facility_isolation.py",
                           "tests/core/test_ids_from_other_facilities.py"],
    "revcycle/audit.py": ["tests/core/test_audit.py", "tests/core/test_audit_admin.py",
                          "tests/security/test_phi_reads_are_audited.py",
                          "tests/security/test_audit_log_is_append_only.py"],
    "revcycle/oauth.py": ["tests/core/test_oauth.py", "tests/core/test_oauth_processes.py",
                          "tests/core/test_oauth_tokens_stored.py"],
    "revcycle/engine.py": ["tests/core/test_engine.py", "tests/core/test_engine_promises.py",
                           "tests/core/test_engine_status.py", "tests/core/test_engine_pump.py",
                           "tests/core/test_engine_steps_saved.py",
                           "tests/core/test_engine_batching.py",
                           "tests/core/test_engine_leasing.py",
                           "tests/core/test_engine_steps_run.py",
                           # The step and claim trace the bench's timeline reads.
                           "tests/core/test_engine_trace.py",
                           "tests/core/test_engine_hand_over.py",
                           "tests/core/test_engine_save_and_hand_over.py",
                           "tests/core/test_engine_relaxed_commit.py"],
    # The claim's SQL: the engine's tests reach it through claim_tickets and the steps'
    # UPDATEs; test_engine_leasing.py holds the PostgreSQL locks (run with DATABASE_URL).
    "revcycle/leasing.py": ["tests/core/test_engine.py", "tests/core/test_engine_promises.py",
                            "tests/core/test_engine_pump.py",
                            "tests/core/test_engine_steps_saved.py",
                            "tests/core/test_engine_batching.py",
                            "tests/core/test_engine_leasing.py",
                            "tests/core/test_engine_hand_over.py",
                            "tests/core/test_engine_save_and_hand_over.py",
                            "tests/core/test_engine_relaxed_commit.py",
                            "tests/core/test_prepared.py"],
    # The engine's every-step statements: prepared on PostgreSQL, read into models and
    # inserted as the ORM would on both.
    "revcycle/prepared.py": ["tests/core/test_prepared.py",
                             "tests/core/test_engine_hand_over.py",
                             "tests/core/test_engine_save_and_hand_over.py",
                             "tests/claims/test_flow.py"],
    "revcycle/http.py": ["tests/core/test_http.py", "tests/core/test_http_answers.py",
                         "tests/core/test_dropped_connections.py", "tests/core/test_oauth.py"],
    "revcycle/api.py": ["tests/core/test_http.py", "tests/core/test_http_answers.py",
                        "tests/core/test_dropped_connections.py", "tests/core/test_oauth.py",
                        "tests/core/test_health_check.py"],
    # The props file's fuzz tests take minutes per run (hypothesis, up to 10,000 deliveries):
    # each mutant runs only its quick parametrised one.
    # mutmut's trampoline holds `secret` in a frame named otherwise, where Django's
    # sensitive_variables cannot hide it: the test that checks the hiding only runs plainly.
    "payer/webhooks.py": ["tests/payer/test_webhooks.py", "tests/props/test_webhook_bodies.py"
                          "::test_it_refuses_a_timestamp_that_is_not_a_moment",
                          "--deselect=tests/payer/test_webhooks.py"
                          "::test_the_secret_is_hidden_from_debug_error_reports"],
    # The payer test files that reach flow.py (test_codes and test_app_move do not): the
    # stats run that maps tests to functions is the slow part of a run on this machine.
    "payer/flow.py": ["tests/payer/test_submit.py", "tests/payer/test_webhooks.py",
                      "tests/payer/test_bulk.py", "tests/payer/test_views.py",
                      "tests/payer/test_claims_queued.py", "tests/payer/test_sent_once.py",
                      "tests/payer/test_status_moves.py"],
    "smartlink/flow.py": ["tests/smartlink"],
}


def main(module: str, *patterns: str) -> None:
    """`patterns` narrow the run to some functions or mutants, e.g. `x_verify*` (mutmut's
    names, globs allowed, with or without the module); by default every mutant of the module
    runs from a clean start. With patterns, an existing mutants/ is kept, so survivors can be
    run again after tests were added for them."""
    if module not in GUARDS:
        sys.exit(f"Unknown module {module!r}; one of: {', '.join(GUARDS)}")
    from mutmut import configuration
    from mutmut.__main__ import cli

    tests = [t for t in GUARDS[module]
             if t.startswith("-") or Path(t.partition("::")[0]).exists()]
    # mutmut limits each mutant to (test time + 1 s) x multiplier x 2 CPU seconds, the test
    # time measured in its stats run; on a loaded machine a slow stats run or a slow mutant
    # can cross it. MUTANTS_TIMEOUT_MULTIPLIER raises it (mutmut's default is 15).
    multiplier = float(os.environ.get("MUTANTS_TIMEOUT_MULTIPLIER") or 15)
    configuration._config = replace(
        configuration.config(), only_mutate=[module],
        pytest_add_cli_args_test_selection=tests, timeout_multiplier=multiplier)
    if not patterns:
        shutil.rmtree("mutants", ignore_errors=True)
    started = time.monotonic()
    dotted = module.removesuffix(".py").replace("/", ".")
    try:
        names = [p if p.startswith(f"{dotted}.") else f"{dotted}.{p}"
                 for p in patterns or ["*"]]
        cli(["run", "--max-children", "1", *names], standalone_mode=False)
    finally:
        print(f"{module}: {time.monotonic() - started:.0f} s with {' '.join(tests)}")
    cli(["results"], standalone_mode=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
