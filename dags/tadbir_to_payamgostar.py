"""Tadbir → Payamgostar Airflow DAGs: one per document type, built from the entity registry and the settings.

Each DAG: detect changes per company (hash diff against the ledger) → load the queue into the CRM
(validate, transform, upsert, record) → report. Companies are mapped tasks, so a failure in one
company does not hide the others' results. ``tadbir_to_payamgostar__by_fiscal_year`` runs them all for
one Jalali fiscal year per run (its timetable's data intervals), for backfills. No database or network
is touched at parse time.
"""

from __future__ import annotations

from hamgam.config import load_config
from hamgam.dagbuilder import REVERSE_DAGS, by_fiscal_year_dag, forward_dag, reverse_dag
from hamgam.entities import SPECS

_config = load_config()
for _name in SPECS:
    _dag = forward_dag(_name, _config)
    globals()[_dag.dag_id] = _dag

_dag = by_fiscal_year_dag(_config)
globals()[_dag.dag_id] = _dag
for _source in REVERSE_DAGS:
    _dag = reverse_dag(_source, _config)
    globals()[_dag.dag_id] = _dag
