"""Every DAG imports without errors, follows the house rules, and parses without I/O."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hamgam.devenv import ROOT

DAGS = ROOT / "dags"
FORWARD = {f"tadbir_to_payamgostar__{e}" for e in ("identities", "products", "quotes", "sales_invoices",
                                                    "sales_returns", "receipts", "payments")}
EXPECTED = FORWARD | {"tadbir_to_payamgostar__by_fiscal_year", "payamgostar_to_tadbir__identities",
                      "payamgostar_to_tadbir__quotes"}  # the DAG ids DESIGN.md fixes


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_the_agreed_dag_ids_exist(dagbag):
    assert EXPECTED <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", sorted(FORWARD))
def test_house_rules(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert {"hamgam", "tadbir_to_payamgostar"} <= set(dag.tags)
    assert dag.max_active_runs == 1 and not dag.catchup
    assert dag.doc_md
    for task in dag.tasks:
        if task.task_id == "report":
            continue
        assert task.retries >= 2, f"{task.task_id} retries"
        assert task.retry_exponential_backoff
        assert task.on_failure_callback, f"{task.task_id} has no failure alert"
    assert dag.get_task("load").pool == "payamgostar_api"
    assert dag.get_task("report").trigger_rule == "all_done"


def test_parsing_touches_no_database_or_network_and_stays_light():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("parse_guarded.py")), str(DAGS)],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert EXPECTED <= set(report["dags"])
    assert report["heavy_modules"] == []


@pytest.mark.parametrize("dag_id", sorted(EXPECTED - FORWARD))
def test_backfill_and_reverse_dags_retry_alert_and_bound_crm_work(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.max_active_runs == 1 and not dag.catchup and dag.doc_md
    for task in dag.tasks:
        if task.task_id == "report":
            assert task.trigger_rule == "all_done"
            continue
        assert task.retries >= 2 and task.on_failure_callback, task.task_id
        if task.task_id.endswith(("load", "collect", "apply")):
            assert task.pool == "payamgostar_api", task.task_id
