"""Celery workers that start their task processes warm, as hamgam.executor.WarmLocalExecutor does locally.

Airflow's Celery worker runs each task in a process forked from a pool process, which is forked from the
worker's main process: what the main process imports before its pool starts, every task process has for
free; otherwise each task process pays Great Expectations' import and set-up again (2-10 s of CPU here).
Importing this module (Airflow does, through ``[celery] celery_config_options``) hooks Celery's
``worker_init`` signal, sent in the main process before the pool starts, to ``hamgam.executor.warm()``.
The configuration itself is Airflow's default, unchanged.

    AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=hamgam.celery_warm.CELERY_CONFIG
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

CELERY_CONFIG = DEFAULT_CELERY_CONFIG


@worker_init.connect
def _warm(**_: Any) -> None:
    from hamgam.executor import warm

    warm()
