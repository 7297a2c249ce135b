"""The settings the test suite runs under: the project's settings with DEBUG on.

DEBUG is off unless the environment turns it on, and the tests need what it brings (the
demo keys, the sandbox app). pytest-django imports settings before any conftest.py runs,
so the variable is set here, in the module pyproject.toml names as DJANGO_SETTINGS_MODULE;
plain `pytest` and `make test` both work. Subprocesses a test starts inherit it; a test
that wants production values sets DEBUG=0 in its child's environment explicitly.
"""

import os

os.environ.setdefault("DEBUG", "1")

from revcycle.settings import *  # noqa: E402, F403

# Django empties the tables between transactional tests with one TRUNCATE of them all; the
# audit log refuses TRUNCATE on PostgreSQL unless the session allows it (migration 0013).
# A test database is thrown away at the end, so no commit waits for its WAL to reach the
# disk (synchronous_commit=off): 300 commits took 1.3-1.9 s, now 0.12 s, and the browser
# tests' server, engine and worker threads commit all the time.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = (_options.get("options", "")
                           + " -c revcycle.allow_audit_truncate=on -c synchronous_commit=off")
