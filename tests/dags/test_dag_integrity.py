"""Every DAG imports without errors, follows the house rules, and parses without I/O."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hamgam_dev.devenv import ROOT

DAGS = ROOT / "dags"
FORWARD = {f"tadbir_to_payamgostar__{e}" for e in ("identities", "products", "quotes", "sales_invoices",
                                                    "sales_returns", "receipts", "payments", "purchase_invoices",
                                                    "purchase_returns")}
EXPECTED = FORWARD | {"tadbir_to_payamgostar__by_fiscal_year", "payamgostar_to_tadbir__identities",
                      "payamgostar_to_tadbir__quotes", "hamgam_drift_report"}  # the DAG ids DESIGN.md fixes


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
    entity = dag_id.removeprefix("tadbir_to_payamgostar__")
    assert dag.get_task(f"{entity}.load").pool == "payamgostar_api"
    assert dag.get_task("report").trigger_rule == "all_done"


def _company_groups(dag) -> dict:
    from airflow.sdk.definitions.taskgroup import MappedTaskGroup

    return {group_id: group for group_id, group in dag.task_group_dict.items() if isinstance(group, MappedTaskGroup)}


@pytest.mark.parametrize("dag_id", sorted(FORWARD))
def test_each_company_has_its_own_detect_and_load(dagbag, dag_id):
    """A mapped task group per company: load[i] waits for detect[i] only, so one company's failure never
    stops another company's load (issue 8, defect 4)."""
    dag = dagbag.dags[dag_id]
    entity = dag_id.removeprefix("tadbir_to_payamgostar__")
    groups = _company_groups(dag)
    assert list(groups) == [entity]
    detect, load = dag.get_task(f"{entity}.detect"), dag.get_task(f"{entity}.load")
    assert detect.task_group is groups[entity] and load.task_group is groups[entity]
    assert load.upstream_task_ids == {f"{entity}.detect"}
    assert detect.upstream_task_ids == set()
    # neither task is mapped on its own: the group is, over the companies (one detect and load each)
    assert not detect.is_mapped and not load.is_mapped
    assert dag.get_task("report").upstream_task_ids == {f"{entity}.load"}
    assert sorted(dag.task_ids) == sorted([f"{entity}.detect", f"{entity}.load", "report"])


@pytest.mark.parametrize("dag_id", ["tadbir_to_payamgostar__by_fiscal_year", "hamgam_drift_report"])
def test_the_fiscal_year_and_reconcile_dags_map_each_entity_over_its_companies_in_layers(dagbag, dag_id):
    from hamgam.dagbuilder import LAYERS

    dag = dagbag.dags[dag_id]
    groups = _company_groups(dag)
    assert set(groups) == {e for layer in LAYERS for e in layer}
    for entity in groups:
        assert dag.get_task(f"{entity}.load").upstream_task_ids == {f"{entity}.detect"}
    assert dag.get_task("quotes.detect").upstream_task_ids == {"identities.load", "products.load"}
    first_documents = ("quotes", "sales_invoices", "receipts", "payments", "purchase_invoices")
    for returns in ("sales_returns", "purchase_returns"):  # after the invoices they name
        assert dag.get_task(f"{returns}.detect").upstream_task_ids == {f"{e}.load" for e in first_documents}
    assert dag.get_task("report").upstream_task_ids == {f"{e}.load" for e in groups}


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
            # what only the reconcile's report finds (changes the fast capture missed) alerts from there
            assert bool(task.on_failure_callback) == (dag_id == "hamgam_drift_report")
            continue
        assert task.retries >= 2 and task.on_failure_callback, task.task_id
        if task.task_id.endswith(("load", "collect", "apply")):
            assert task.pool == "payamgostar_api", task.task_id


def test_the_reconcile_runs_daily_by_default_and_on_demand_only_without_a_cron():
    from hamgam.config import load_config
    from hamgam.dagbuilder import drift_report_dag

    config = load_config()
    daily = drift_report_dag(config).timetable
    assert (daily.expression, str(daily.timezone)) == ("0 3 * * *", "Asia/Tehran")
    manual = config.model_copy(update={"sync": config.sync.model_copy(update={"reconcile_schedule": None})})
    assert type(drift_report_dag(manual).timetable).__name__ == "NullTimetable"
