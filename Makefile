# hamgam: `make demo` and `make test` are all a new user needs (each sets up first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9
AIRFLOW_ENV = eval "$$($(PY) -m hamgam_dev.devenv)"

.PHONY: setup demo check backfill-demo bench bench-freshness bench-no-change test test-slow test-fast test-stack chaos lint lock up stack stack-down airflow airflow-init clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -r requirements.txt -r requirements-dev.txt -e .
	@touch $(STAMP)

demo: setup  ## demo Tadbir data -> local Payamgostar sandbox through the identities DAG, then a summary
	$(PY) -m hamgam_dev.demo

check: setup  ## `python -m hamgam check` on the demo world (demo Tadbir databases, the sandbox on a free port): a ✓ / ✗ / ! table per company of what would break at a site; exit 1 on any ✗ (CHECK_ARGS="--json")
	$(PY) -m hamgam_dev.check_demo -- $(CHECK_ARGS)

backfill-demo: setup  ## fiscal years 1403 and 1404 backfilled twice through a real Airflow (scheduler, API server) over the demo data
	$(PY) -m hamgam_dev.backfill_demo

bench: setup  ## hamgam's load against a raw client (one create call per record), same new records and sandbox: identities and sales invoices at 20 and 100 ms per call, 4 and 16 workers; prints `ratio <entity> <latency> ms <workers> workers <hamgam/raw>` lines, appends to benchmarks/RESULTS.md (about 5 min)
	$(PY) benchmarks/bench_load.py --entities identities sales_invoices --latencies 20 100 --workers 4 16 --repeat 3 --record $(BENCH_ARGS)

bench-freshness: setup  ## commit in Tadbir -> record in the CRM under a real Airflow (event-driven runs): the demo Tadbir on SQLite, then on the local PostgreSQL
	$(PY) benchmarks/bench_freshness.py $(BENCH_ARGS)

bench-no-change: setup  ## a run with nothing to sync under a real Airflow, split into Airflow's own time and hamgam's work (about 4 min)
	$(PY) benchmarks/bench_no_change.py --record $(BENCH_ARGS)

test: setup  ## the suite but the tests marked slow (PostgreSQL tests skip when no server answers at 127.0.0.1:5432)
	$(PY) -m pytest -m "not slow and not stack"

test-slow: setup  ## the tests that start a real Airflow (scheduler, triggerer, API server) and the long property searches
	$(PY) -m pytest -m "slow and not stack"

test-stack: setup  ## the end-to-end test on the distributed stack (make stack's code: CeleryExecutor, two workers, PostgreSQL, Redis): every DAG, a backfill, a webhook, a worker SIGKILLed mid-load; nothing lost or doubled (about 2½ minutes here)
	$(PY) -m pytest -m stack tests/stack

test-fast: setup  ## everything but the Airflow end-to-end tests
	$(PY) -m pytest -m "not airflow and not slow"

chaos: setup  ## every DAG through a fault matrix (CRM faults, kills, sandbox restarts) against a no-fault baseline
	$(PY) -m hamgam_dev.chaos $(CHAOS_ARGS)

lint: setup  ## ruff over everything, mypy over the runtime package (as CI runs them)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

lock:  ## re-pin requirements.txt (runtime, the image) from requirements.in, then requirements-dev.txt (tests, tools) within it
	$(UV) pip compile --python $(PY) requirements.in -o requirements.txt
	$(UV) pip compile --python $(PY) requirements-dev.in -o requirements-dev.txt

airflow-init: setup  ## prepare `make up`'s world (demo Tadbir, ledger, Airflow's metadata database, DAGs, the CRM pool) if there is none; RESET=1 makes a fresh one
	$(PY) -m hamgam_dev.up --prepare-only $(if $(RESET),--reset)

up: setup  ## Airflow UI on 127.0.0.1:8080 (hamgam web app under /hamgam) and the sandbox on :8765, whose webhooks go to it; keeps the world (Tadbir, ledger, CRM, Airflow runs) across restarts, RESET=1 starts afresh; Ctrl-C stops everything (UP_ARGS="--port 8081 --sandbox-port 8766")
	$(PY) -m hamgam_dev.up $(if $(RESET),--reset) $(UP_ARGS)

stack: setup  ## the distributed shape natively: api-server, scheduler, dag-processor, triggerer, two Celery workers (PostgreSQL, Redis at 127.0.0.1), the sandbox; files in .stack/; Ctrl-C or make stack-down stops it
	$(PY) -m hamgam_dev.stack up

stack-down: setup  ## stop what `make stack` started (from another terminal)
	$(PY) -m hamgam_dev.stack down

airflow: setup  ## any Airflow command with the project's settings: make airflow ARGS="dags list"
	@test -f .airflow/airflow.db || $(MAKE) --no-print-directory airflow-init >/dev/null
	@$(AIRFLOW_ENV) && $(VENV)/bin/airflow $(ARGS)

clean:
	rm -rf data .airflow
