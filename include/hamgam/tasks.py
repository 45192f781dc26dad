"""What the DAGs' tasks do, resolved from Airflow connections; XCom gets counts and keys only."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from hamgam import pipeline
from hamgam.config import HamgamConfig, load_config
from hamgam.connections import engine_for, sqlalchemy_url
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _ledger(url: str):
    from hamgam.ledger.store import Ledger

    return Ledger.connect(url)


def open_ledger(config: HamgamConfig):
    return _ledger(sqlalchemy_url(config.sync.state_conn_id))


def detect(entity: str, company: int, *, run_id: str, full_resync: bool = False,
           allow_mass_delete: bool = False, fiscal_year: int | None = None) -> dict[str, Any]:
    config = load_config()
    ctx = SyncContext(config, config.company(company))
    counts = pipeline.detect(SPECS[entity], ctx, engine=engine_for(ctx.company.tadbir_conn_id),
                             ledger=open_ledger(config), run_id=run_id, full_resync=full_resync,
                             allow_mass_delete=allow_mass_delete, fiscal_year=fiscal_year)
    return {"company": company, **counts}


def load(entity: str, detected: dict[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    from hamgam.payamgostar.hook import PayamgostarHook

    config = load_config()
    company = int(detected["company"])
    ctx = SyncContext(config, config.company(company))
    ledger = open_ledger(config)
    run_pk = ledger.start_run(dag_id, run_id, company, entity)
    # detection's own outcomes: unchanged records, and documents recorded as skipped (no lines, ...)
    counts: dict[str, int] = {"unchanged": int(detected.get("unchanged", 0)),
                              "skipped": int(detected.get("skipped", 0))}
    try:
        hook = PayamgostarHook(config.sync.crm_conn_id, max_workers=config.sync.crm_max_workers)
        with hook.get_conn() as client:
            loaded = pipeline.load(SPECS[entity], ctx, engine=engine_for(ctx.company.tadbir_conn_id),
                                   ledger=ledger, client=client, run_id=run_id)
        for name, value in loaded.items():
            counts[name] = counts.get(name, 0) + value
    except Exception as exc:
        ledger.finish_run(run_pk, "failed", counts, message=str(exc)[:2000])
        raise
    ledger.finish_run(run_pk, "success", counts)
    return {"company": company, **counts}


def report(entities: list[str] | str, *, run_id: str) -> dict[str, Any]:
    """Log this run's outcome per entity and company, and the records that need a person's attention."""
    from hamgam.summary import entity_report

    config = load_config()
    ledger = open_ledger(config)
    unfinished: list[str] = []
    totals: dict[str, Any] = {}
    for entity in [entities] if isinstance(entities, str) else entities:
        text, counts, missing = entity_report(ledger, entity, config.companies_for(entity), run_id=run_id)
        log.info("%s\n%s", entity, text)
        totals[entity] = counts
        unfinished += [f"{entity} company {company}" for company in missing]
    if unfinished:  # the report is the DAG's last task: the run is green only if every company is
        raise pipeline.SyncError(f"{', '.join(unfinished)} did not finish; see the load task of that company")
    return totals[entities] if isinstance(entities, str) else totals
