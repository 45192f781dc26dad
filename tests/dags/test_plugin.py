"""The hamgam plugin: Airflow loads it from <repo>/plugins, DAGs using FiscalYearTimetable serialize with it,
and a real Airflow backfills one run per Jalali fiscal year."""

from __future__ import annotations

import json
import os

import pendulum
import pytest

from hamgam.timetables import FiscalYearTimetable, fiscal_year_interval
from hamgam_dev.devenv import ROOT

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


# The real scheduler backfilling one run per fiscal year is tested on the project's own DAG and the demo
# data in tests/e2e/test_backfill_by_fiscal_year.py (one real Airflow start for the suite, not two).
