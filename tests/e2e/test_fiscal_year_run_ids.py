"""Run ids of tadbir_to_payamgostar__by_fiscal_year, made by Airflow itself.

A fresh Airflow metadata database, the repo's DAG serialized by `airflow dags reserialize` (the plugin
registers FiscalYearTimetable), then Airflow's own CLI: `airflow backfill create` over 1403 and 1404
(the runs are created at once, queued; no scheduler is needed for that), `airflow dags trigger` (a
manual run) and `airflow dags list-runs`.

A manual run's id names its fiscal year (FiscalYearTimetable.generate_run_id; scheduled runs go through
the same method). Airflow 3.3.2 names backfill runs of a DAG without partitions itself, by date only:
this test pins that, so an Airflow that starts asking the timetable shows here; until then a backfill
run's year is its note (hamgam.run_notes, set when the scheduler starts the run: asserted by the slow
tests/e2e/test_backfill_by_fiscal_year.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hamgam.dagbuilder import BY_FISCAL_YEAR
from hamgam.timetables import fiscal_year_of
from hamgam_dev.devenv import airflow_env

pytestmark = pytest.mark.airflow


def test_a_manual_run_is_named_by_its_fiscal_year_and_a_backfill_run_by_date(tmp_path):
    env = {**os.environ, **airflow_env(tmp_path / "data", airflow_home=tmp_path / "airflow")}
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")

    def cli(*args: str) -> str:
        result = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    cli("db", "migrate")
    cli("dags", "reserialize")
    cli("backfill", "create", "--dag-id", BY_FISCAL_YEAR, "--from-date", "2024-03-20", "--to-date", "2026-03-20")
    # The CLI's manual run covers the year containing "now" (Airflow infers its interval from run_after)
    cli("dags", "trigger", BY_FISCAL_YEAR, "--logical-date", "2024-06-01T00:00:00+00:00")
    out = cli("dags", "list-runs", BY_FISCAL_YEAR, "--output", "json")
    runs = json.loads(out[out.index("[{"):]) if "[{" in out else pytest.fail(f"no runs listed:\n{out}")
    by_type = {"backfill": [run["run_id"] for run in runs if run["run_id"].startswith("backfill__")]}

    assert sorted(by_type["backfill"]) == ["backfill__2025-03-20T20:30:00+00:00",  # the end of 1403
                                           "backfill__2026-03-20T20:30:00+00:00"]  # the end of 1404
    [manual] = [run for run in runs if run["run_id"].startswith("manual__")]
    year = fiscal_year_of(manual["run_after"])
    assert manual["run_id"] == f"manual__fiscal_year_{year}__{manual['run_after']}"
