# Everything installs itself: a fresh machine needs only Python 3.13, Node 20 and the registries.
# Python 3.13 is the version Azure runs (infra/app/function.bicep) and the one whose worker runtime,
# azure-functions-runtime, tests/test_worker_indexing.py starts; no other version will do.
# The first of these that really is 3.13 (a pyenv shim for a version not selected fails to run).
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && command -v $$p && break; done)
PYTHON_OK = $(if $(PYTHON),,$(error Python 3.13 not found: install python3.13 or run make PYTHON=/path/to/python3.13))
VENV   := .venv
PY     := $(VENV)/bin/python
PYDEPS := $(VENV)/.deps-installed
NODEDEPS := node_modules/.deps-installed
# Debian's chromium; GitHub runners pass CHROMIUM_PATH=/usr/bin/google-chrome (the tests read it too).
CHROMIUM ?= $(or $(CHROMIUM_PATH),/usr/bin/chromium)
INFRAVENV := .venv-infra
INFRADEPS := $(INFRAVENV)/.deps-installed

.PHONY: install run test test-fast lint bench stress infra-check browser-test reports-bundle authoring-bundle audit clean

install: $(PYDEPS) $(NODEDEPS)

$(PYDEPS): requirements.txt requirements-dev.txt
	$(PYTHON_OK)$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13) and "$(PYTHON) is not Python 3.13")'
	$(PYTHON) -m venv --clear $(VENV)  # --clear: an older venv (e.g. 3.11) is rebuilt, never reused
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODEDEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Serve the registered functions on http://localhost:7071/api/... with Azurite (Ctrl-C stops all).
run: install
	$(PY) -m tools.localhost

## Lint (ruff check + format check, mypy --strict), checkov on infra/, the web client in Chromium,
## then every Python test, each against a fresh Azurite on a free loopback port.
test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict shared functions
	$(MAKE) --no-print-directory infra-check
	$(MAKE) --no-print-directory browser-test
	$(PY) -m pytest

## The pure test tier alone: no Azurite, no sockets (see README, "Other commands").
test-fast: install
	$(PY) -m pytest -q -m pure

## The web client (client/) and the report page (/reports/) in headless Chromium (Debian's
## package) via playwright-core; screenshots of the report views go to client/test/artifacts/.
browser-test: install $(CHROMIUM)
	node --test client/test/

## Rebuild the report page's committed bundle (client/reports/dist/) after editing its sources;
## `make browser-test` fails while the committed bundle differs from a fresh build.
reports-bundle: install
	node client/reports/build.mjs

## Rebuild the authoring page's committed bundle (client/authoring/dist/) after editing its sources
## or client/cetegra-notifications.js (its renderers are bundled).
authoring-bundle: install
	node client/authoring/build.mjs

## The long reliability runs: 5,000 generated requests per route (schemathesis), then 16 clients
## for 60 s against the local host (bench/results/load.json).
stress: install
	FUZZ_EXAMPLES=5000 $(PY) -m pytest -q tests/test_api_fuzz.py
	$(PY) -m bench.load --clients 16 --seconds 60

## Known vulnerabilities in the pinned requirements (needs PyPI's JSON API / OSV: GitHub CI runs it).
audit:
	$(PYTHON_OK)$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-audit.txt
	.venv-audit/bin/pip-audit --strict --no-deps --disable-pip -r requirements.txt -r requirements-dev.txt

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## checkov on the Bicep templates, offline (no platform download); must report 0 failed checks.
infra-check: $(INFRADEPS)
	$(INFRAVENV)/bin/checkov --framework bicep -d infra --skip-download --quiet --compact

$(INFRADEPS): requirements-infra.txt
	$(PYTHON_OK)$(PYTHON) -m venv $(INFRAVENV)
	$(INFRAVENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## Benchmarks against a fresh Azurite; figures go to bench/results/.
bench: install
	$(PY) -m bench.ingest
	$(PY) -m bench.timers
	$(PY) -m bench.erasure
	$(PY) -m bench.notifications
	$(PY) -m bench.reports
	$(PY) -m bench.privacy

clean:
	rm -rf $(VENV) $(INFRAVENV) .venv-audit node_modules .pytest_cache .ruff_cache
