# revcycle: `make demo` serves the app with its worker; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# The browser tests' npm tools (axe-core, package-lock.json), installed beside the venv.
NPM_STAMP := node_modules/.installed
# Every dependency, pinned with its hashes (`make lock` regenerates it from pyproject.toml's
# ranges): what CI and every install get, byte for byte.
LOCK := requirements.lock
LOCK_COMMAND := uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o $(LOCK)
PORT ?= 8000
PYTEST_WORKERS ?= auto
# The browser tests run in parallel too (pytest-xdist): each worker has its own live server
# on a free port, its own test database (pytest-django's _gwN suffix) and its own Chromium.
# Two fit two cores; more mostly add Chromium processes competing for them.
E2E_WORKERS ?= 2
BENCH_ARGS ?=
SOAK_ARGS ?=
# The settings keep DEBUG off unless the environment turns it on. The demo, the bench, the
# soak and migrate here are development work: they run with DEBUG=1 (demo keys, sandbox,
# loopback only) unless you set DEBUG yourself. The tests turn it on in tests/settings.py.
DEBUG ?= 1
export DEBUG

.PHONY: demo test test-unit test-e2e bench soak lint typecheck checks lock setup migrate clean mutants \
	screenshots

# A changed lock (or pyproject.toml) reinstalls. --require-hashes refuses any package whose
# file differs from the one locked; the project itself is installed without dependencies,
# so nothing unlocked slips in through its ranges.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The accessibility scan injects axe-core from node_modules (tests/e2e/test_accessibility.py).
# `npm ci` installs exactly package-lock.json, again only when the lock changes.
$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the browser tests (apt-get install -y npm)"; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

# After changing pyproject.toml's dependencies: regenerate the lock, then `make setup`.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(BIN)/$(LOCK_COMMAND)

setup: $(STAMP) $(NPM_STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_setup --port $(PORT)
	$(PY) manage.py serve_demo --port $(PORT)

test: test-unit test-e2e

test-unit: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not e2e" $(PYTEST_ARGS)

test-e2e: setup
	$(BIN)/pytest -m e2e -n $(E2E_WORKERS) $(PYTEST_ARGS)

bench: migrate
	$(PY) manage.py bench $(BENCH_ARGS)

soak: migrate
	$(PY) manage.py soak $(SOAK_ARGS)

# Mutation testing, outside CI (hours on two cores for all modules; docs/testing.md).
# `make mutants MODULE=revcycle/crypto.py` runs one module with the tests that guard it.
MUTANT_MODULES := revcycle/crypto.py revcycle/roles.py revcycle/access.py revcycle/audit.py \
	revcycle/oauth.py revcycle/engine.py revcycle/leasing.py revcycle/http.py revcycle/api.py payer/webhooks.py \
	payer/flow.py smartlink/flow.py
MODULE ?= $(MUTANT_MODULES)
mutants: $(STAMP)
	@for m in $(MODULE); do $(PY) tools/mutants.py $$m || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# What CI checks besides the tests: types, and that no model change lacks its migration.
checks: typecheck
	$(PY) manage.py makemigrations --check --dry-run

# PNGs of the main screens for the README (docs/screenshots/), from seeded demo data.
screenshots: setup
	$(BIN)/pytest tests/e2e/screenshots.py -p no:randomly -q

clean:
	rm -rf $(VENV) var node_modules
