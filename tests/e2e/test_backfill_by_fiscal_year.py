"""Backfilling fiscal years 1403 and 1404 through a real Airflow (scheduler, DAG processor, API server).

The demo's Tadbir data, the real sandbox and a real Airflow over the repo's dags/ and plugins/: the
backfill `--from-date 2024-03-20 --to-date 2026-03-20` of tadbir_to_payamgostar__by_fiscal_year makes
exactly one run per fiscal year, each run syncs its year's documents into the CRM, and the same
backfill again (reprocess_behavior "completed": Airflow clears both runs and runs them again) makes no
CRM write at all.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict

import pendulum
import pytest
from e2e_world import free_port, make_world

from hamgam.dagbuilder import BY_FISCAL_YEAR, CRM_POOL
from hamgam.timetables import fiscal_year_interval
from hamgam_dev.backfill_demo import SCHEDULER_SETTINGS, failed_task_logs, run_backfill
from hamgam_dev.devenv import airflow_env

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

YEARS = (1403, 1404)
COMPANIES = (100, 200)
ENTITIES = ("identities", "products", "quotes", "sales_invoices", "receipts", "payments", "purchase_invoices",
            "sales_returns", "purchase_returns")
DOCUMENTS = {"quote": "quotes", "sales_invoice": "sales_invoices", "sales_return": "sales_returns",
             "receipt": "receipts", "payment": "payments", "purchase_invoice": "purchase_invoices",
             "purchase_return": "purchase_returns"}  # the sandbox's kind → the entity


def crm_years(sandbox) -> dict[tuple[str, int], set[int]]:
    """(kind, company) → the fiscal years of the CRM's documents, read from their numbers (100-1403/…)."""
    found: dict[tuple[str, int], set[int]] = defaultdict(set)
    for record in sandbox.records(*DOCUMENTS):
        company, rest = record["number"].split("-", 1)
        found[record["kind"], int(company)].add(int(rest.split("/", 1)[0]))
    return found


def processes_using(home: str) -> list[int]:
    """Pids of any live process whose environment points at this AIRFLOW_HOME (escaped ones too)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("AIRFLOW_HOME") == home and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_backfill_by_fiscal_year_syncs_each_year_once_and_a_rerun_writes_nothing(tmp_path, smtp):
    from hamgam.ledger.store import Ledger
    from hamgam_dev.airflow_server import AirflowServer
    from pg_sandbox.testing import run_sandbox

    timings: dict[str, float] = {}
    began = time.monotonic()
    sandbox_port = free_port()
    data = tmp_path / "data"
    env = {**airflow_env(data, sandbox_url=f"http://127.0.0.1:{sandbox_port}", airflow_home=tmp_path / "airflow",
                         smtp_port=smtp.port, crm_max_attempts=2),
           **SCHEDULER_SETTINGS,
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),  # the scheduler's log server
           "HAMGAM_CONFIG": str(tmp_path / "hamgam.yaml")}  # make_world writes it (retries 0)
    server = AirflowServer(env)

    # Airflow's start-up (db migrate, the components, health) overlaps building the demo data
    start_error: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # re-raised in the test's thread
            start_error.append(exc)

    starter = threading.Thread(target=start, name="airflow-start")
    starter.start()
    try:
        _, _, config_path = make_world(tmp_path)
        assert str(config_path) == env["HAMGAM_CONFIG"]
        with run_sandbox(data / "sandbox.sqlite", port=sandbox_port) as sandbox:
            starter.join()
            if start_error:
                raise start_error[0]
            timings["start"] = time.monotonic() - began
            server.api("POST", "/pools", json={"name": CRM_POOL, "slots": 8,
                                               "description": "Concurrent Payamgostar CRM work (hamgam)"})

            # -- first backfill: one run per fiscal year, both years' documents in the CRM -------------
            first = run_backfill(server, timeout=900)
            timings["first backfill"] = first.seconds
            runs = first.runs
            assert first.succeeded, failed_task_logs(server, runs)
            assert [r["run_type"] for r in runs] == ["backfill"] * 2
            assert [(pendulum.parse(r["data_interval_start"]), pendulum.parse(r["data_interval_end"]))
                    for r in runs] == [tuple(fiscal_year_interval(year)) for year in YEARS]
            assert [r["fiscal_year"] for r in runs] == list(YEARS)
            assert [r["note"] for r in runs] == [f"fiscal year {year}" for year in YEARS]  # hamgam.run_notes
            assert [r["run_id"] for r in server.dag_runs(BY_FISCAL_YEAR)] == [r["run_id"] for r in runs]
            first_writes = sandbox.stats().get("writes", 0)
            assert first_writes > 0

            years_in_crm = crm_years(sandbox)
            for kind in DOCUMENTS:
                for company in COMPANIES:
                    assert years_in_crm[kind, company] == set(YEARS), (kind, company)
            invoices = {r["number"] for r in sandbox.records("sales_invoice")}
            for company in COMPANIES:
                for year in YEARS:
                    assert any(n.startswith(f"{company}-{year}/") for n in invoices), (company, year)

            year_of_run = {r["run_id"]: r["fiscal_year"] for r in runs}
            ledger = Ledger.connect(f"sqlite:///{data / 'hamgam_state.sqlite'}")
            try:
                rows = [r for r in ledger.runs(limit=1000) if r.dag_id == BY_FISCAL_YEAR]
                # one sync_run per entity and company in each year's run, all successful
                assert Counter((r.run_id, r.entity, r.company, r.state) for r in rows) == Counter(
                    (run_id, e, c, "success") for run_id in year_of_run for e in ENTITIES for c in COMPANIES)
                created: dict[tuple[int, str], int] = defaultdict(int)
                for r in rows:
                    created[year_of_run[r.run_id], r.entity] += r.created
                for year in YEARS:  # each year's run created that year's documents
                    for entity in DOCUMENTS.values():
                        assert created[year, entity] > 0, (year, entity, dict(created))
                # master data syncs its current state: all of it in 1403's run, nothing new in 1404's
                assert created[1403, "identities"] > 0 and created[1404, "identities"] == 0

                # -- the same backfill again: both runs cleared and rerun, zero CRM writes --------------
                sandbox.reset_stats()
                second = run_backfill(server, reprocess_behavior="completed", timeout=900)
                timings["second backfill"] = second.seconds
                assert second.succeeded, failed_task_logs(server, second.runs)
                assert second.id != first.id
                assert [r["run_id"] for r in second.runs] == [r["run_id"] for r in runs]  # rerun in place
                assert [r["run_id"] for r in server.dag_runs(BY_FISCAL_YEAR)] == [r["run_id"] for r in runs]
                assert sandbox.stats().get("writes", 0) == 0, sandbox.stats()

                again = [r for r in ledger.runs(limit=1000) if r.dag_id == BY_FISCAL_YEAR]
                reruns = again[:len(again) - len(rows)]  # newest first
                assert Counter((r.run_id, r.entity, r.company, r.state) for r in reruns) == Counter(
                    (run_id, e, c, "success") for run_id in year_of_run for e in ENTITIES for c in COMPANIES)
                assert sum(r.created + r.updated + r.deleted for r in reruns) == 0
                assert sum(r.unchanged for r in reruns) > 0
            finally:
                ledger.dispose()
            stopping = time.monotonic()
            server.stop(grace=5)
            timings["stop"] = time.monotonic() - stopping
    finally:
        starter.join()
        server.stop(grace=5)  # no-op once stopped
    timings["total"] = time.monotonic() - began
    print(f"\nbackfill by fiscal year: {first_writes} CRM writes, then 0; timings (s):",
          {k: round(v, 1) for k, v in timings.items()})
    assert server.processes() == []
    assert processes_using(env["AIRFLOW_HOME"]) == []
