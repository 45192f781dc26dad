"""The hamgam plugin: Airflow loads it from <repo>/plugins, DAGs using FiscalYearTimetable serialize with it,
and a real Airflow backfills one run per Jalali fiscal year."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pendulum
import pytest

from hamgam.devenv import ROOT, airflow_env
from hamgam.timetables import FiscalYearTimetable, fiscal_year_interval

TIMETABLE_NAME = "hamgam.timetables.FiscalYearTimetable"


def test_the_plugins_folder_is_the_repos():
    from airflow import settings

    assert os.path.realpath(settings.PLUGINS_FOLDER) == str(ROOT / "plugins")


def test_plugin_manager_loads_the_hamgam_plugin_from_the_plugins_folder():
    from airflow import plugins_manager

    info = {p["name"]: p for p in plugins_manager.get_plugin_info(attrs_to_dump=["source", "timetables"])}
    assert "hamgam" in info, plugins_manager.get_import_errors()
    assert info["hamgam"]["timetables"] == [TIMETABLE_NAME]
    assert info["hamgam"]["source"].path == "hamgam_plugin.py"
    assert not any("hamgam_plugin" in path for path in plugins_manager.get_import_errors())
    assert plugins_manager.get_timetables_plugins()[TIMETABLE_NAME] is FiscalYearTimetable


def _dag(timetable):
    from airflow.sdk import DAG

    with DAG("fiscal_year_serialization_probe", schedule=timetable, catchup=False,
             start_date=pendulum.datetime(2024, 3, 20, tz="Asia/Tehran")) as dag:
        pass
    return dag


def test_a_dag_with_the_timetable_serializes_and_deserializes():
    from airflow.serialization.serialized_objects import DagSerialization

    stored = json.loads(json.dumps(DagSerialization.to_dict(_dag(FiscalYearTimetable(start_month=4)))))
    assert stored["dag"]["timetable"] == {"__type": TIMETABLE_NAME,
                                          "__var": {"start_month": 4, "timezone": "Asia/Tehran"}}
    loaded = DagSerialization.from_dict(stored)
    assert loaded.timetable == FiscalYearTimetable(start_month=4)
    assert loaded.timetable.summary == "Jalali fiscal year (from month 4)"
    assert loaded.timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2025, 1, 1, tz="UTC")) == fiscal_year_interval(1403, start_month=4)


def test_an_unregistered_timetable_does_not_serialize():
    """What the plugin is for: Airflow refuses timetables no plugin registered."""
    from airflow.serialization.serialized_objects import DagSerialization

    class Unregistered(FiscalYearTimetable):
        pass

    with pytest.raises(Exception, match="not registered"):
        DagSerialization.to_dict(_dag(Unregistered()))


PROBE_DAG = '''
import pendulum
from airflow.sdk import dag, task

from hamgam.timetables import FiscalYearTimetable, fiscal_year_of_interval


@dag(dag_id="hamgam_fiscal_year_probe", schedule=FiscalYearTimetable(), catchup=False,
     start_date=pendulum.datetime(2024, 3, 20, tz="Asia/Tehran"))
def hamgam_fiscal_year_probe():
    @task
    def which_year(data_interval_start=None):
        return fiscal_year_of_interval(data_interval_start)

    which_year()


hamgam_fiscal_year_probe()
'''


def _processes_using(home) -> list[int]:
    """Pids of any process (ours or escaped) whose environment points at this AIRFLOW_HOME."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("AIRFLOW_HOME") == str(home) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


@pytest.mark.airflow
def test_a_real_airflow_backfills_one_run_per_fiscal_year(tmp_path):
    from hamgam.airflow_server import AirflowServer

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "fiscal_year_probe.py").write_text(textwrap.dedent(PROBE_DAG))
    home = tmp_path / "airflow"
    env = {**airflow_env(tmp_path / "data", airflow_home=home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    dag_id = "hamgam_fiscal_year_probe"
    timings = {}
    started = time.monotonic()
    server = AirflowServer(env)
    with server:
        timings["start"] = server.started_in
        mark = time.monotonic()
        server.wait_for_dag(dag_id)
        timings["dag parsed"] = time.monotonic() - mark

        # The CLI's dry run: bare dates are UTC midnight, 3.5 h into 1 Farvardin in Tehran.
        cli = server.cli("backfill", "create", "--dag-id", dag_id, "--from-date", "2024-03-20",
                         "--to-date", "2026-03-20", "--dry-run")
        assert cli.stdout.count("2024-03-19 20:30:00+00:00") == 1, cli.stdout
        assert cli.stdout.count("2025-03-20 20:30:00+00:00") == 1, cli.stdout
        assert cli.stdout.count("+00:00") == 2, cli.stdout
        assert server.backfill(dag_id, "2024-03-20", "2026-03-20", dry_run=True) == [
            "2024-03-19T20:30:00Z", "2025-03-20T20:30:00Z"]

        mark = time.monotonic()
        backfill_id = server.backfill(dag_id, "2024-03-20", "2026-03-20", conf={"probe": True})
        server.unpause(dag_id)
        runs = server.wait_for_runs(dag_id, 2, timeout=300)
        timings["backfill of 2 years"] = time.monotonic() - mark
        assert isinstance(backfill_id, int)
        assert [(r["state"], r["run_type"], r["conf"]) for r in runs] == [("success", "backfill", {"probe": True})] * 2
        intervals = [(pendulum.parse(r["data_interval_start"]), pendulum.parse(r["data_interval_end"])) for r in runs]
        assert intervals == [tuple(fiscal_year_interval(1403)), tuple(fiscal_year_interval(1404))]
        assert [server.xcom(dag_id, r["run_id"], "which_year") for r in runs] == [1403, 1404]
        time.sleep(3)  # nothing else gets scheduled: the unpaused DAG's latest complete year is 1404's run
        assert len(server.dag_runs(dag_id)) == 2
        mark = time.monotonic()
    timings["stop"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    print("airflow server timings (s):", {k: round(v, 1) for k, v in timings.items()})
    assert server.processes() == []
    assert _processes_using(home) == []
