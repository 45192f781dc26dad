"""What the DAGs' tasks do, resolved from Airflow connections; XCom gets counts and keys only."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from hamgam import pipeline
from hamgam.config import HamgamConfig, load_config
from hamgam.connections import engine_for, open_ledger
from hamgam.entities import SPECS
from hamgam.entities.base import EntitySpec, SyncContext
from hamgam.tadbir.source_check import missing_source

log = logging.getLogger(__name__)
REFERENCES = ":references"  # how pipeline.sync_keys names the lease holder of a document load's reference sync


def _error_text(exc: BaseException) -> str:
    """The error as the report quotes it: its type and message (SQL statements cut off)."""
    text = str(exc).split("\n[SQL:", 1)[0].strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"[:2000]


def _record_failure(ledger, run_pk: int, counts: dict[str, int], exc: BaseException, holder: str) -> None:
    """Record the task's error for the report; the task then fails with the error itself, whatever happens here."""
    try:
        ledger.finish_run(run_pk, "failed", counts, message=_error_text(exc), holder=holder)
    except Exception:
        log.exception("could not record the failure of sync run %s in the ledger", run_pk)


def _after_reference_syncs(ledger, config: HamgamConfig, company: int, entity: str, call: Callable[[], Any]) -> Any:
    """``call()``, which takes the company + entity lease; if a document load holds it to sync a few of this
    entity's records first (a new customer saved with its first invoice: both DAGs start at once), wait for
    that (up to ``sync.reference_wait_seconds``) and call again, instead of failing into a retry minutes later.
    Any other holder (another run of this entity) still fails the task at once."""
    from hamgam.ledger.store import LeaseBusy

    deadline = time.monotonic() + config.sync.reference_wait_seconds
    while True:
        try:
            return call()
        except LeaseBusy as busy:
            if not (busy.holder_now or "").endswith(REFERENCES) or time.monotonic() >= deadline:
                raise
            log.info("company %s %s: a document load is syncing some of these records first (%s); waiting",
                     company, entity, busy.holder_now)
        while time.monotonic() < deadline:
            held = ledger.lease_holder(company, entity)
            if held is None or not held[0].endswith(REFERENCES):
                break
            time.sleep(0.2)


def readable_spec(entity: str, engine: sa.Engine, config: HamgamConfig, company: int) -> EntitySpec:
    """``entity``'s spec as company ``company``'s Tadbir names its source; a table or column it reads that is
    not there fails the task without retries (``AirflowFailException``): every try and every schedule would
    fail the same way, and the message names the table and the setting to change."""
    problem = missing_source(engine, SPECS[entity], config, company)
    if problem is not None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(problem)
    return SPECS[entity].for_company(config.company(company))


def _detect_run(ledger, dag_id: str, run_id: str, company: int, entity: str, holder: str) -> int:
    """The ledger's record of this DAG run for company + entity: a retry of detect carries on the record
    of the try before it; otherwise (a new run, or a cleared one run again) a new record starts."""
    run = ledger.find_run(dag_id, run_id, company, entity)
    if run is not None and run.stage == "detect":
        ledger.set_stage(run.id, "detect", holder=holder)
        return run.id
    return ledger.start_run(dag_id, run_id, company, entity, stage="detect", holder=holder)


def detect(entity: str, company: int, *, run_id: str, dag_id: str | None = None, holder: str | None = None,
           full_resync: bool = False, allow_mass_delete: bool = False, fiscal_year: int | None = None,
           reconcile: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Detect one company's changes. ``holder``: this try's lease holder (``hamgam.ledger.try_holder``).
    ``reconcile``: the daily ground truth instead (``hamgam.tadbir.changes.reconcile``); what the fast change
    capture missed goes on to the load as the run's ``note``. ``dry_run``: nothing here; the load task runs
    detection and load together on a shadow ledger (``hamgam.dry_run``).

    Starts the run's record in the ledger; a failure is recorded there with its error, for the report.
    """
    if dry_run:  # the load task detects on its shadow ledger (hamgam.dry_run): nothing is recorded here
        return {"company": company, "dry_run": True, "full_resync": full_resync,
                "allow_mass_delete": allow_mass_delete, "fiscal_year": fiscal_year}
    config = load_config()
    spec = SPECS[entity]
    holder = holder or run_id
    ledger = open_ledger(config)
    run_pk = _detect_run(ledger, dag_id or spec.dag_id, run_id, company, entity, holder)
    try:
        ctx = SyncContext(config, config.company(company))
        engine = engine_for(ctx.company.tadbir_conn_id, config)
        spec = readable_spec(entity, engine, config, company)
        if reconcile:
            from hamgam.tadbir.changes import reconcile as run_reconcile

            call = lambda: run_reconcile(spec, ctx, engine=engine, ledger=ledger,  # noqa: E731
                                         run_id=run_id, holder=holder, allow_mass_delete=allow_mass_delete)
        else:
            call = lambda: pipeline.detect(  # noqa: E731
                spec, ctx, engine=engine, ledger=ledger, run_id=run_id, holder=holder, full_resync=full_resync,
                allow_mass_delete=allow_mass_delete, fiscal_year=fiscal_year)
        with ledger.attribute(run_pk, holder):
            counts = _after_reference_syncs(ledger, config, company, entity, call)
    except Exception as exc:
        _record_failure(ledger, run_pk, {}, exc, holder)
        raise
    ledger.set_stage(run_pk, "detected", holder=holder)
    key_prefix = f"{fiscal_year}/" if fiscal_year is not None and spec.scope == "fiscal_years" else None
    if reconcile:
        counts = {**counts, "note": missed_note(counts)}
    return {"company": company, "run_pk": run_pk, "key_prefix": key_prefix, **counts}


MISSED = "missed by the change capture"  # how a reconcile run's note starts when it found something


def missed_note(counts: dict[str, Any]) -> str | None:
    """The note a reconcile run keeps in the ledger (``SyncRun.message`` of a successful run), or None."""
    if not counts.get("missed"):
        return None
    keys = ", ".join(counts.get("missed_keys", []))
    more = " …" if counts["missed"] > len(counts.get("missed_keys", [])) else ""
    return f"{counts['missed']} difference(s) {MISSED} ({counts.get('capture')}), synced now: {keys}{more}"


def load(entity: str, detected: dict[str, Any], *, dag_id: str, run_id: str, holder: str | None = None
         ) -> dict[str, Any]:
    """Load one company's queue. Returns (and records) the counts of the whole run, over all tries.
    A dry run (``detected["dry_run"]``) returns what a real run would do instead (``dry_load``)."""
    from hamgam.payamgostar.hook import PayamgostarHook

    if detected.get("dry_run"):
        return dry_load(entity, detected, run_id=run_id)
    config = load_config()
    company = int(detected["company"])
    holder = holder or run_id
    key_prefix = detected.get("key_prefix")
    ctx = SyncContext(config, config.company(company))
    ledger = open_ledger(config)
    run_pk = detected.get("run_pk")
    if run_pk is None:
        found = ledger.find_run(dag_id, run_id, company, entity)
        run_pk = found.id if found is not None else ledger.start_run(dag_id, run_id, company, entity,
                                                                     holder=holder)
    ledger.set_stage(run_pk, "load", holder=holder)
    try:
        with ledger.attribute(run_pk, holder):
            hook = PayamgostarHook(config.sync.crm_conn_id, max_workers=config.sync.crm_max_workers)
            engine = engine_for(ctx.company.tadbir_conn_id, config)
            spec = readable_spec(entity, engine, config, company)
            with hook.get_conn() as client:
                _after_reference_syncs(ledger, config, company, entity, lambda: pipeline.load(
                    spec, ctx, engine=engine, ledger=ledger, client=client, run_id=run_id, holder=holder))
    except Exception as exc:
        try:
            counts = ledger.run_counts(run_pk, key_prefix=key_prefix)
        except Exception:  # the ledger itself may be what failed
            counts = {}
        _record_failure(ledger, run_pk, counts, exc, holder)
        raise
    counts = ledger.run_counts(run_pk, key_prefix=key_prefix)
    ledger.finish_run(run_pk, "success", counts, message=detected.get("note"), holder=holder)
    return {"company": company, **counts}


def dry_load(entity: str, detected: dict[str, Any], *, run_id: str) -> dict[str, Any]:
    """One company's dry run (``hamgam.dry_run``): the CRM is only read, the ledger only copied."""
    from hamgam.dry_run import dry_run
    from hamgam.payamgostar.dry_run import DryRunClient
    from hamgam.payamgostar.hook import PayamgostarHook

    config = load_config()
    company = int(detected["company"])
    ctx = SyncContext(config, config.company(company))
    engine = engine_for(ctx.company.tadbir_conn_id, config)
    spec = readable_spec(entity, engine, config, company)
    hook = PayamgostarHook(config.sync.crm_conn_id, client_class=DryRunClient,
                           max_workers=config.sync.crm_max_workers)
    with hook.get_conn() as client:
        assert isinstance(client, DryRunClient)
        plan = dry_run(spec, ctx, engine=engine, ledger=open_ledger(config), client=client, run_id=run_id,
                       full_resync=bool(detected.get("full_resync")),
                       allow_mass_delete=bool(detected.get("allow_mass_delete")),
                       fiscal_year=detected.get("fiscal_year"))
    return {"entity": entity, **plan}


def dry_report(entities: list[str] | str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Log a dry run's plan per entity (``results``: the load tasks' answers, ``entity`` added); returns per
    entity the summed counts and each company's answer."""
    from hamgam.dry_run import plan_text

    out: dict[str, Any] = {}
    for entity in [entities] if isinstance(entities, str) else entities:
        mine = [r for r in results if r and r.get("entity") == entity]
        log.info("%s", plan_text(entity, mine))
        totals: Counter[str] = sum((Counter(result["counts"]) for result in mine), Counter())
        out[entity] = {"dry_run": True, "counts": dict(totals), "companies": mine}
    return out[entities] if isinstance(entities, str) else out


def report(entities: list[str] | str, *, run_id: str, dag_id: str | None = None,
           fiscal_year: int | None = None, reconcile: bool = False) -> dict[str, Any]:
    """Log this run's outcome per entity and company, and the records that need a person's attention;
    fail naming each company's task that did not finish, with its error. ``reconcile`` (the drift report):
    also fail, naming the keys, where the daily scan found changes the fast change capture had missed.
    Also emits the metrics (``hamgam.metrics``) and sends the alerts the run calls for (``hamgam.alert_rules``);
    a dry run never comes here (``dry_report``), so it does neither."""
    from hamgam import alert_rules, metrics
    from hamgam.ledger.models import utcnow
    from hamgam.summary import run_report

    config = load_config()
    ledger = open_ledger(config)
    unfinished: list[str] = []
    missed: list[str] = []
    totals: dict[str, Any] = {}
    for entity in [entities] if isinstance(entities, str) else entities:
        spec = SPECS[entity]
        key_prefix = f"{fiscal_year}/" if fiscal_year is not None and spec.scope == "fiscal_years" else None
        result = run_report(ledger, entity, config.companies_for(entity), run_id=run_id,
                            dag_id=dag_id or spec.dag_id, key_prefix=key_prefix)
        log.info("%s\n%s", entity, result.text)
        totals[entity] = result.totals
        companies, now = config.companies_for(entity), utcnow()
        metrics.emit(ledger, entity, companies, now)
        alert_rules.after_run(ledger, config, entity, companies, dag_id=dag_id or spec.dag_id, run_id=run_id,
                              unfinished=set(result.failures), now=now, key_prefix=key_prefix)
        unfinished += result.failures.values()
        if reconcile:
            missed += _missed_by_capture(ledger, entity, config.companies_for(entity), run_id,
                                         dag_id or spec.dag_id)
    problems = []
    if unfinished:  # the report is the DAG's last task: the run is green only if every company is
        problems.append("not every company finished:\n" + "\n".join(unfinished))
    if missed:
        problems.append("the daily reconcile found changes the fast change capture had missed (they are "
                        "synced now; a miss means a checksum collision or a change Tadbir did not track):\n"
                        + "\n".join(missed))
    if problems:
        raise pipeline.SyncError("\n".join(problems))
    return totals[entities] if isinstance(entities, str) else totals


def _missed_by_capture(ledger, entity: str, companies: list[int], run_id: str, dag_id: str) -> list[str]:
    """Per company whose reconcile run found misses: its note (``missed_note``)."""
    lines = []
    for company in companies:
        run = ledger.find_run(dag_id, run_id, company, entity)
        if run is not None and run.state == "success" and MISSED in (run.message or ""):
            lines.append(f"{entity} company {company}: {run.message}")
    return lines


def drift(entities: list[str], *, run_id: str, dag_id: str) -> dict[str, Any]:
    """The drift report (``hamgam.drift``) of every company and entity, stored in the ledger; fails naming
    company, entity, fiscal year and keys when a difference is not explained. Returns the counts."""
    from airflow.sdk.exceptions import AirflowFailException

    from hamgam.drift import entity_rows, report_text, save, unexplained_text
    from hamgam.payamgostar.hook import PayamgostarHook

    config = load_config()
    ledger = open_ledger(config)
    rows: list[dict[str, Any]] = []
    hook = PayamgostarHook(config.sync.crm_conn_id, max_workers=config.sync.crm_max_workers)
    with hook.get_conn() as client:
        for entity in entities:
            for company in config.companies_for(entity):
                ctx = SyncContext(config, config.company(company))
                engine = engine_for(ctx.company.tadbir_conn_id, config)
                spec = readable_spec(entity, engine, config, company)
                rows += entity_rows(spec, ctx, engine=engine, ledger=ledger, client=client)
    saved = save(ledger, dag_id=dag_id, run_id=run_id, rows=rows)
    log.info("drift report %s\n%s", saved["id"], report_text(rows))
    if saved["unexplained"]:  # no retry: it would find the same (a CRM outage on the way is retried)
        raise AirflowFailException(f"the drift report found {saved['unexplained']} difference(s) between Tadbir, the ledger "
                         f"and the CRM that nobody explains (not set aside, not queued):\n{unexplained_text(rows)}")
    return {"report_id": saved["id"], "rows": len(rows), "unexplained": 0}
