"""Tadbir → Payamgostar Airflow DAGs: one per document type, built from the entity registry and the settings.

Each DAG: detect changes per company (against the ledger) → load the queue into the CRM (validate,
transform, upsert, record) → report. Companies are mapped tasks, so a failure in one company does not
hide the others' results. A forward DAG starts within seconds of a save in Tadbir (a probe in Airflow's
triggerer emits its asset event, ``hamgam.triggers``) and on ``sync.schedule`` as a safety net.
``tadbir_to_payamgostar__by_fiscal_year`` runs them all for one Jalali fiscal year per run (its
timetable's data intervals), for backfills. No database or network is touched at parse time; a worker
that parses the file to run one task builds only that task's DAG.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from hamgam.config import load_config
from hamgam.dagbuilder import build_dags

globals().update(build_dags(load_config(), only=get_parsing_context().dag_id))
