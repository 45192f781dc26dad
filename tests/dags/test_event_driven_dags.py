"""Every forward DAG is scheduled on its Tadbir change asset (one watcher per company, run by the triggerer)
or the safety-net cron; the switch turns it off; a worker parsing the file builds only its own DAG."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam_dev.devenv import ROOT

ENTITIES = tuple(SPECS)
FORWARD = [f"tadbir_to_payamgostar__{e}" for e in ENTITIES]


def settings(**sync) -> object:
    data = yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    data["sync"] = {**data.get("sync", {}), **sync}
    return parse_config(yaml.safe_dump(data, allow_unicode=True))


def assets_of(condition) -> list:
    """The assets of a schedule's asset condition (AssetAll/AssetAny nest them in ``objects``)."""
    if hasattr(condition, "objects"):
        return [a for o in condition.objects for a in assets_of(o)]
    return [condition]


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_forward_dag_runs_on_its_change_asset_or_the_safety_net_cron(entity):
    from airflow.sdk import AssetOrTimeSchedule

    from hamgam.dagbuilder import forward_dag
    from hamgam.triggers import TadbirChangeTrigger

    config = settings(probe_interval_seconds=1.5, probe_timeout_seconds=8)
    dag = forward_dag(entity, config)
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable.expression == config.sync.schedule  # the cron stays as the safety net
    (asset,) = assets_of(dag.timetable.asset_condition)
    assert asset.uri == f"hamgam://tadbir/{entity}"
    by_company = {w.trigger.company: w for w in asset.watchers}
    assert sorted(by_company) == config.companies_for(entity)
    for company, watcher in by_company.items():
        assert watcher.name == f"tadbir_{entity}_{company}"
        assert isinstance(watcher.trigger, TadbirChangeTrigger)
        assert watcher.trigger.serialize() == ("hamgam.triggers.TadbirChangeTrigger", {
            "entity": entity, "company": company, "interval": 1.5, "timeout": 8.0,
            "probe": "hamgam.tadbir.changes.probe_token"})
    assert dag.max_active_runs == 1  # what makes saves during a run coalesce into one next run


def test_without_a_cron_the_asset_alone_schedules_and_the_switch_turns_it_off():
    from hamgam.dagbuilder import forward_dag

    dag = forward_dag("identities", settings(schedule=None))
    assert [a.uri for a in assets_of(dag.timetable.asset_condition)] == ["hamgam://tadbir/identities"]
    off = forward_dag("identities", settings(event_driven=False, schedule="*/2 * * * *"))
    assert type(off.timetable).__name__ == "CronTriggerTimetable" and off.timetable.expression == "*/2 * * * *"


def test_the_serialized_dag_keeps_the_watchers_the_dag_processor_registers():
    from airflow.serialization.serialized_objects import DagSerialization

    from hamgam.config import load_config
    from hamgam.dagbuilder import forward_dag

    dag = forward_dag("sales_invoices", load_config())
    data = DagSerialization.to_dict(dag)
    text = str(data)
    assert "hamgam.triggers.TadbirChangeTrigger" in text and "tadbir_sales_invoices_200" in text
    again = DagSerialization.from_dict(data)
    assert [a.uri for a in assets_of(again.timetable.asset_condition)] == [
        "hamgam://tadbir/sales_invoices"]


def test_a_worker_parsing_the_file_builds_only_the_dag_it_runs():
    code = ("import runpy, json; ns = runpy.run_path('dags/tadbir_to_payamgostar.py'); "
            "print(json.dumps(sorted(k for k, v in ns.items() if type(v).__name__ == 'DAG')))")
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "tadbir_to_payamgostar__quotes",
           "_AIRFLOW_PARSING_CONTEXT_TASK_ID": "quotes.detect"}
    only = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    assert only.stdout.strip().splitlines()[-1] == '["tadbir_to_payamgostar__quotes"]'
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID")
    env.pop("_AIRFLOW_PARSING_CONTEXT_TASK_ID")
    every = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True)
    assert set(FORWARD) < set(json.loads(every.stdout.strip().splitlines()[-1]))
