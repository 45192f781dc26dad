"""Builds the forward DAGs from an entity spec and the settings (cheap: no I/O at parse time)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, dag, get_current_context, task

from hamgam.config import HamgamConfig
from hamgam.entities import SPECS

CRM_POOL = "payamgostar_api"  # bounds concurrent CRM work across all DAGs


def default_args(config: HamgamConfig) -> dict[str, Any]:
    from hamgam.alerts import failure_notifier

    args: dict[str, Any] = {
        "owner": "hamgam",
        "retries": config.sync.retries,
        "retry_delay": timedelta(seconds=config.sync.retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    }
    notifier = failure_notifier(config.alerts)
    if notifier is not None:
        args["on_failure_callback"] = notifier
    return args


def forward_dag(entity: str, config: HamgamConfig) -> DAG:
    spec = SPECS[entity]
    companies = config.companies_for(entity)

    @dag(
        dag_id=spec.dag_id,
        schedule=config.sync.schedule,
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Tehran"),
        catchup=False,
        max_active_runs=1,
        tags=["hamgam", "tadbir_to_payamgostar", entity],
        default_args=default_args(config),
        params={
            "full_resync": Param(False, type="boolean",
                                 description="Send every record again, changed or not ('transfer all')."),
            "allow_mass_delete": Param(False, type="boolean",
                                       description="Confirm deleting more than sync.max_delete_share of the "
                                                   "synced records in one run."),
        },
        doc_md=f"""
### Tadbir → Payamgostar: {entity}
Detects new, changed and deleted {spec.label}s in each company's Tadbir database (content hash
against the hamgam ledger), validates them with Great Expectations, and upserts them into the CRM.
Rows that fail validation or that the CRM rejects are recorded in the ledger with their reasons and
listed by the `report` task. Companies: {", ".join(map(str, companies))}.
""",
    )
    def forward():
        @task(map_index_template="{{ company_label }}")
        def detect(company: int) -> dict[str, Any]:
            from hamgam import tasks

            context = get_current_context()
            context["company_label"] = f"company {company}"
            params = context["params"]
            return tasks.detect(entity, company, run_id=context["run_id"],
                                full_resync=bool(params.get("full_resync")),
                                allow_mass_delete=bool(params.get("allow_mass_delete")))

        @task(pool=CRM_POOL, map_index_template="{{ company_label }}")
        def load(detected: dict[str, Any]) -> dict[str, Any]:
            from hamgam import tasks

            context = get_current_context()
            context["company_label"] = f"company {detected['company']}"
            return tasks.load(entity, detected, dag_id=spec.dag_id, run_id=context["run_id"])

        # runs whatever happened upstream; the failing load task already sent the alert
        @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, on_failure_callback=None)
        def report() -> dict[str, Any]:
            from hamgam import tasks

            return tasks.report(entity, run_id=get_current_context()["run_id"])

        loaded = load.expand(detected=detect.expand(company=companies))
        loaded >> report()

    return forward()
