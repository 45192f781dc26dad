"""The executor hamgam's Airflow runs with: LocalExecutor, with the task code loaded before it forks.

Every task runs in a process forked from an executor worker, which is forked from the scheduler. What
the scheduler imports before the workers start, every task process has for free; what it does not, each
task process imports again. Measured on this 2-core machine, a task process otherwise pays about 2-3.5 s
of CPU for Great Expectations' import and first set-up (~10 s when the machine is busy) before it
validates a thing: far more than a one-record event-driven load's own work (~0.3 s). The DAG-bag module
Airflow's task runner parses the DAG file with (0.4 s to import) and hamgam's task modules are
preloaded too. ``WarmLocalExecutor`` imports them all and
builds every entity's GX suite once, before ``LocalExecutor.start`` forks its workers.

Use it with ``AIRFLOW__CORE__EXECUTOR=hamgam.executor.WarmLocalExecutor`` (hamgam.executor.FAST_SETTINGS).
The imports start no thread (GX analytics is off in hamgam_dev.devenv), so forking after them is safe.
Celery workers would get the same by calling ``hamgam.executor.warm()`` at worker start (not wired here).
"""

from __future__ import annotations

import importlib
import logging

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

PRELOAD = (
    "pandas",  # and Great Expectations, through hamgam.gx (its loggers quieted first)
    "airflow.dag_processing.dagbag",  # the task runner parses the DAG file with it
    "airflow.sdk.execution_time.task_runner",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.smtp.notifications.smtp",  # the failure alerts
    "hamgam.dagbuilder", "hamgam.tasks", "hamgam.pipeline", "hamgam.validate", "hamgam.summary",
    "hamgam.payamgostar.hook", "hamgam.ledger.store", "hamgam.tadbir.changes", "hamgam.reverse.run",
)
OPTIONAL = ("psycopg", "pymssql")  # database drivers, when installed


def warm() -> None:
    """Import what tasks import and build every entity's validation suite, in this process."""
    from hamgam.gx import import_gx

    import_gx()
    for name in PRELOAD:
        importlib.import_module(name)
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from hamgam.entities import SPECS
    from hamgam.validate import warm as warm_suites

    warm_suites({name: spec.checks for name, spec in SPECS.items()})


class WarmLocalExecutor(LocalExecutor):
    """Airflow's LocalExecutor, warmed (``warm()``) before it forks its workers. Nothing else changes."""

    def start(self) -> None:
        warm()
        super().start()


# For a quick turn-around on a small machine (see also hamgam_dev.backfill_demo.SCHEDULER_SETTINGS):
# - the warm executor;
# - workers that notice a finished task process within 1 s (default: up to 5 s);
# - 8 tasks at once (mostly waiting on I/O);
# - a scheduler that looks for work every 0.2 s when idle (default 1 s);
# - a DAG processor that does not re-parse the unchanged DAG file every 30 s.
FAST_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "hamgam.executor.WarmLocalExecutor",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}
