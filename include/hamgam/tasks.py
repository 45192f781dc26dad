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
           allow_mass_delete: bool = False) -> dict[str, Any]:
    config = load_config()
    ctx = SyncContext(config, config.company(company))
    counts = pipeline.detect(SPECS[entity], ctx, engine=engine_for(ctx.company.tadbir_conn_id),
                             ledger=open_ledger(config), run_id=run_id, full_resync=full_resync,
                             allow_mass_delete=allow_mass_delete)
    return {"company": company, **counts}


def load(entity: str, detected: dict[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    from hamgam.payamgostar.hook import PayamgostarHook

    config = load_config()
    company = int(detected["company"])
    ctx = SyncContext(config, config.company(company))
    ledger = open_ledger(config)
    run_pk = ledger.start_run(dag_id, run_id, company, entity)
    counts: dict[str, int] = {"unchanged": int(detected.get("unchanged", 0))}
    try:
        hook = PayamgostarHook(config.sync.crm_conn_id, max_workers=config.sync.crm_max_workers)
        with hook.get_conn() as client:
            counts.update(pipeline.load(SPECS[entity], ctx, engine=engine_for(ctx.company.tadbir_conn_id),
                                        ledger=ledger, client=client, run_id=run_id))
    except Exception as exc:
        ledger.finish_run(run_pk, "failed", counts, message=str(exc)[:2000])
        raise
    ledger.finish_run(run_pk, "success", counts)
    return {"company": company, **counts}


def report(entity: str, *, run_id: str) -> dict[str, Any]:
    """Log this run's outcome per company and the records that need a person's attention."""
    from hamgam.summary import entity_report

    config = load_config()
    text, totals, unfinished = entity_report(open_ledger(config), entity, config.companies_for(entity),
                                             run_id=run_id)
    log.info("\n%s", text)
    if unfinished:  # the report is the DAG's last task: the run is green only if every company is
        raise pipeline.SyncError(f"{entity}: company {', '.join(map(str, unfinished))} did not finish; "
                                 "see the load task of that company")
    return totals
