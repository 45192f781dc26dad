"""A note on every run of the fiscal-year DAG naming its year: "fiscal year 1403".

Airflow 3.3.2 names backfill runs of a DAG without partitions by the moment they may start
(`backfill__2025-03-20T20:30:00+00:00`, which is the end of fiscal year 1403) and does not ask the
timetable (`FiscalYearTimetable.generate_run_id` names scheduled and manual runs only). So the plugin
registers this module as a listener: when the scheduler starts a run of
tadbir_to_payamgostar__by_fiscal_year (backfill, scheduled or manual), the run gets the note
"fiscal year <year>", unless someone already wrote one. The note shows on the run's page and marks the
run in the grid; the API returns it as the run's `note`. The scheduler commits it with the run's start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow.listeners import hookimpl

from hamgam.dagbuilder import BY_FISCAL_YEAR
from hamgam.timetables import fiscal_year_of_interval

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

log = logging.getLogger(__name__)


def fiscal_year_note(dag_run: DagRun) -> str | None:
    """The note for `dag_run`, or None when it is not a fiscal-year run or already has a note."""
    if dag_run.dag_id != BY_FISCAL_YEAR or dag_run.note or dag_run.data_interval_start is None:
        return None
    # The interval starts on the 1st day of the year's first month, in that Jalali year, whatever the
    # start month: the Jalali year of that day is the fiscal year.
    return f"fiscal year {fiscal_year_of_interval(dag_run.data_interval_start)}"


@hookimpl
def on_dag_run_running(dag_run: DagRun, msg: str) -> None:
    if (note := fiscal_year_note(dag_run)) is not None:
        dag_run.note = note
        log.info("run %s of %s: note %r", dag_run.run_id, dag_run.dag_id, note)
