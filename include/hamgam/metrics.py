"""The team's own monitoring: per company and entity, the records synced, set aside (invalid or rejected),
failed and queued, and the freshness lag, emitted at the end of every forward run through Airflow's metrics
(the Task SDK's ``Stats``: StatsD or OpenTelemetry, whichever ``[metrics]`` turns on; nothing when neither).

Names (after Airflow's ``statsd_prefix``, ``airflow`` by default), all gauges of the ledger's state:

- ``hamgam.records_synced.<entity>.<company>``
- ``hamgam.records_set_aside.<entity>.<company>``
- ``hamgam.records_failed.<entity>.<company>``
- ``hamgam.records_queued.<entity>.<company>``
- ``hamgam.freshness_lag_seconds.<entity>.<company>`` (``hamgam.freshness``; not sent while there is none)

Each carries the tags ``entity`` and ``company`` too, for the backends that keep tags (OpenTelemetry, Datadog).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "hamgam"
_initialized = False


def _stats() -> Any:
    """The Task SDK's stats, set up from ``[metrics]``. A worker's task runner sets them up before the task
    runs; a task run in-process (``dag.test()``, ``airflow dags test``) skips that step, so it is done here."""
    global _initialized
    from airflow.sdk._shared.observability.metrics import stats as shared
    from airflow.sdk.observability import stats

    if not _initialized and shared._factory is None:
        from airflow.sdk.configuration import conf
        from airflow.sdk.observability.metrics import stats_utils

        stats.initialize(factory=stats_utils.get_stats_factory(),
                         export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=False))
    _initialized = True
    return stats


def gauges(ledger: Any, entity: str, company: int, now: datetime) -> dict[str, float]:
    """The values emitted for one company's entity: metric name (without the prefix) → value."""
    from hamgam.freshness import freshness_lag

    counts = ledger.counts_by_status(company, entity)
    values: dict[str, float] = {
        "records_synced": counts.get("synced", 0),
        "records_set_aside": counts.get("invalid", 0) + counts.get("rejected", 0),
        "records_failed": counts.get("failed", 0),
        "records_queued": ledger.pending_count(company, entity),
    }
    lag = freshness_lag(ledger, company, entity, now)
    if lag is not None:
        values["freshness_lag_seconds"] = round(lag.total_seconds(), 3)
    return values


def emit(ledger: Any, entity: str, companies: list[int], now: datetime) -> None:
    """Emit the gauges of ``entity`` for each company; a metrics backend that fails is logged, never fatal."""
    try:
        stats = _stats()
        for company in companies:
            tags = {"entity": entity, "company": str(company)}
            for name, value in gauges(ledger, entity, company, now).items():
                stats.gauge(f"{PREFIX}.{name}.{entity}.{company}", value, tags=tags)
    except Exception:
        log.exception("could not emit the metrics of %s", entity)
