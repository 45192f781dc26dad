"""Builds the forward DAGs from an entity spec and the settings (cheap: no I/O at parse time)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, dag, get_current_context, task, task_group

from hamgam.config import HamgamConfig
from hamgam.entities import SPECS, layers
from hamgam.reverse.specs import REVERSE_SPECS

if TYPE_CHECKING:
    from airflow.sdk import Context

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


FULL_RESYNC = Param(False, type="boolean", description="Send every record again, changed or not ('transfer all').")
DRY_RUN = Param(False, type="boolean", description="Only show what the run would do: detect, validate and "
                                                   "transform, read the CRM, write nothing to the CRM and leave "
                                                   "the ledger's sync state as it is; the report lists what "
                                                   "would be created, updated, deleted and set aside.")
ALLOW_MASS_DELETE = Param(False, type="boolean", description="Confirm deleting more than sync.max_delete_share "
                                                             "of the synced records in one run.")
# the backfill DAG runs entities in these layers, derived from the specs' references: what a document names
# is in the CRM before it
LAYERS = layers(SPECS)


def _holder(context: Any) -> str:
    """This try's lease holder: two tries of one task (an orphan and its retry) never share a lease."""
    from hamgam.ledger import try_holder

    ti = context["ti"]
    return try_holder(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)


def fiscal_year_of_run(context: Any, start_month: int) -> int:
    """The fiscal year a run of the by-fiscal-year DAG covers, from its data interval. A run triggered without
    a logical date (the UI and the REST API allow it) has no interval and so no year: it fails at once, without
    retries, saying how to start one, instead of failing every try on a missing value."""
    from airflow.sdk.exceptions import AirflowFailException

    from hamgam.timetables import fiscal_year_of_interval

    start = context.get("data_interval_start")
    if start is None:
        raise AirflowFailException(
            f"{BY_FISCAL_YEAR} syncs one fiscal year per run, the year of the run's data interval, and this run "
            "has none (it was triggered without a logical date). Trigger it with a logical date inside the "
            "fiscal year (2025-03-21 for 1404), or backfill the years: airflow backfill create --dag-id "
            f"{BY_FISCAL_YEAR} --from-date <first day> --to-date <last day>")
    return fiscal_year_of_interval(start, start_month=start_month)


def _label(context: Context, company: Any) -> None:
    """Name this mapped instance after its company: ``map_index_template`` is rendered with the context, and
    a key set in it is Airflow's way to feed it (the ``Context`` TypedDict lists no such key)."""
    cast("dict[str, Any]", context)["company_label"] = f"company {company}"


def _sync_tasks(entity: str, companies: list[int], dag_id: str, *, per_fiscal_year: bool, start_month: int = 1,
                reconcile: bool = False):
    """detect → load for one entity, in a task group mapped over its companies (group id: the entity).
    ``reconcile``: detect is the daily ground truth (``hamgam.tadbir.changes.reconcile``).

    Company i's load waits for company i's detect only, so one company's failure never stops another's
    load. Returns the mapped group (for ordering)."""
    spec = SPECS[entity]

    # in a backfill, a later layer runs even if an earlier one failed somewhere: references are
    # synced on demand anyway, and the report still turns the run red
    @task(task_id="detect", multiple_outputs=False, map_index_template="{{ company_label }}",
          trigger_rule=TriggerRule.ALL_DONE if per_fiscal_year or reconcile else TriggerRule.ALL_SUCCESS)
    def detect(company: int) -> dict[str, Any]:
        from hamgam import tasks

        context = get_current_context()
        _label(context, company)
        params = context["params"]
        fiscal_year = None
        if per_fiscal_year and spec.scope == "fiscal_years":  # master data always syncs its current state
            fiscal_year = fiscal_year_of_run(context, start_month)
        return tasks.detect(entity, company, run_id=context["run_id"], dag_id=dag_id, holder=_holder(context),
                            full_resync=bool(params.get("full_resync")),
                            allow_mass_delete=bool(params.get("allow_mass_delete")), fiscal_year=fiscal_year,
                            reconcile=reconcile, dry_run=bool(params.get("dry_run")))

    @task(task_id="load", pool=CRM_POOL, multiple_outputs=False, map_index_template="{{ company_label }}")
    def load(detected: dict[str, Any]) -> dict[str, Any]:
        from hamgam import tasks

        context = get_current_context()
        _label(context, detected["company"])
        return tasks.load(entity, detected, dag_id=dag_id, run_id=context["run_id"], holder=_holder(context))

    @task_group(group_id=entity, tooltip=f"{spec.label}s of one company: detect, then load")
    def company_sync(company: int) -> None:
        # TaskFlow: the call takes the XComArg of detect's result, but Airflow types it with load's parameters
        load(detect(company))  # type: ignore[arg-type]

    return company_sync.expand(company=companies)


def _report_task(entities: list[str], dag_id: str, *, per_fiscal_year: bool = False, start_month: int = 1,
                 reconcile: bool = False):
    # runs whatever happened upstream; the failing detect or load task already sent the alert, except for
    # what only the reconcile's report finds (changes the fast capture missed): that one alerts itself
    alert: dict[str, Any] = {} if reconcile else {"on_failure_callback": None}

    @task(task_id="report", multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE, retries=0, **alert)
    def report() -> dict[str, Any]:
        from hamgam import tasks

        context = get_current_context()
        if context["params"].get("dry_run"):  # the load tasks' answers are the plan; the ledger has no run
            results = context["ti"].xcom_pull(task_ids=[f"{entity}.load" for entity in entities])
            return tasks.dry_report(entities, list(results or []))
        fiscal_year = None
        if per_fiscal_year:
            fiscal_year = fiscal_year_of_run(context, start_month)
        return tasks.report(entities, run_id=context["run_id"], dag_id=dag_id, fiscal_year=fiscal_year,
                            reconcile=reconcile)

    return report()


def change_asset(entity: str, companies: list[int], config: HamgamConfig):
    """The asset a forward DAG is scheduled on: ``hamgam://tadbir/<entity>``, with one watcher per company
    (a probe in Airflow's triggerer, ``hamgam.triggers``). Built at parse time without any I/O."""
    from airflow.sdk import Asset, AssetWatcher

    from hamgam.triggers import TadbirChangeTrigger, asset_uri

    watchers = [AssetWatcher(name=f"tadbir_{entity}_{company}", trigger=TadbirChangeTrigger(
        entity=entity, company=company, interval=config.sync.probe_interval_seconds,
        timeout=config.sync.probe_timeout_seconds)) for company in companies]
    return Asset(name=f"tadbir_{entity}", uri=asset_uri(entity), group="tadbir", watchers=watchers)


def forward_schedule(entity: str, companies: list[int], config: HamgamConfig) -> Any:
    """Event-driven (``sync.event_driven``): the entity's change asset, or the safety-net cron
    (``sync.schedule``) when it is set; otherwise the cron alone."""
    if not config.sync.event_driven or not companies:
        return config.sync.schedule
    asset = change_asset(entity, companies, config)
    if not config.sync.schedule:
        return [asset]
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(config.sync.schedule, timezone="Asia/Tehran"),
                               assets=[asset])


def forward_dag(entity: str, config: HamgamConfig) -> DAG:
    spec = SPECS[entity]
    companies = config.companies_for(entity)
    trigger_doc = (f"It starts within seconds of a save in Tadbir: a probe per company in Airflow's triggerer "
                   f"(every {config.sync.probe_interval_seconds:g} s) emits the asset event "
                   f"`hamgam://tadbir/{entity}`; saves made while a run is busy make one next run. "
                   f"The schedule `{config.sync.schedule}` is the safety net."
                   if config.sync.event_driven else f"It runs on the schedule `{config.sync.schedule}`.")

    @dag(
        dag_id=spec.dag_id,
        schedule=forward_schedule(entity, companies, config),
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Tehran"),
        catchup=False,
        max_active_runs=1,
        tags=["hamgam", "tadbir_to_payamgostar", entity],
        default_args=default_args(config),
        params={"full_resync": FULL_RESYNC, "allow_mass_delete": ALLOW_MASS_DELETE, "dry_run": DRY_RUN},
        doc_md=f"""
### Tadbir → Payamgostar: {entity}
Detects new, changed and deleted {spec.label}s in each company's Tadbir database (content hash
against the hamgam ledger), validates them with Great Expectations, and upserts them into the CRM.
Rows that fail validation or that the CRM rejects are recorded in the ledger with their reasons and
listed by the `report` task. Companies: {", ".join(map(str, companies))}. {trigger_doc}
""",
    )
    def forward():
        _sync_tasks(entity, companies, spec.dag_id, per_fiscal_year=False) >> _report_task([entity], spec.dag_id)

    return forward()


BY_FISCAL_YEAR = "tadbir_to_payamgostar__by_fiscal_year"


def by_fiscal_year_dag(config: HamgamConfig) -> DAG:
    """One run per Jalali fiscal year (its data interval): every enabled entity, in dependency order."""
    from hamgam.timetables import FiscalYearTimetable

    entities = [e for layer in LAYERS for e in layer if config.companies_for(e)]

    @dag(
        dag_id=BY_FISCAL_YEAR,
        schedule=FiscalYearTimetable(start_month=config.fiscal_year_start_month),
        start_date=pendulum.datetime(2021, 3, 21, tz="Asia/Tehran"),  # 1 Farvardin 1400
        catchup=False,
        max_active_runs=1,
        tags=["hamgam", "tadbir_to_payamgostar", "backfill"],
        default_args=default_args(config),
        params={"full_resync": FULL_RESYNC, "allow_mass_delete": ALLOW_MASS_DELETE, "dry_run": DRY_RUN},
        doc_md=f"""
### Tadbir → Payamgostar, one fiscal year per run
Each run's data interval is one Jalali fiscal year. It syncs identities and products (their current
state), then that year's quotes, sales invoices, receipts and payments, then its sales returns. Use it
to backfill past years: `airflow backfill create --dag-id {BY_FISCAL_YEAR} --from-date 2024-03-20
--to-date 2026-03-20`, or the UI's *Backfill* dialog. Running a year again changes nothing that is
already in step. Entities: {", ".join(entities)}.
""",
    )
    def by_fiscal_year():
        _in_layers(entities, config, BY_FISCAL_YEAR, per_fiscal_year=True,
                   start_month=config.fiscal_year_start_month) >> _report_task(
            entities, BY_FISCAL_YEAR, per_fiscal_year=True, start_month=config.fiscal_year_start_month)

    return by_fiscal_year()


def _in_layers(entities: list[str], config: HamgamConfig, dag_id: str, **options: Any) -> list[Any]:
    """Each entity's detect → load groups, a layer after the one before it (``LAYERS``); returns them all."""
    previous: list[Any] = []
    groups: list[Any] = []
    for layer in LAYERS:
        current = []
        for entity in (e for e in layer if e in entities):
            group = _sync_tasks(entity, config.companies_for(entity), dag_id, **options)
            for upstream in previous:
                upstream >> group
            current.append(group)
        previous = current or previous
        groups += current
    return groups


DRIFT_REPORT = "hamgam_drift_report"


def _drift_task(entities: list[str]):
    """The drift report per company, entity and fiscal year (``hamgam.drift``), once the reconcile's syncs are
    done whatever they found; it fails (and alerts) on a difference nobody explains. A retry reads it all again."""

    @task(task_id="drift", pool=CRM_POOL, multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def drift() -> dict[str, Any]:
        from hamgam import tasks

        return tasks.drift(entities, run_id=get_current_context()["run_id"], dag_id=DRIFT_REPORT)

    return drift()


def drift_report_dag(config: HamgamConfig) -> DAG:
    """Daily (``sync.reconcile_schedule``) and on demand: every company and entity read in full and compared
    with the ledger and what the fast change capture queued; what it missed is synced, and reported."""
    entities = [e for layer in LAYERS for e in layer if config.companies_for(e)]

    @dag(
        dag_id=DRIFT_REPORT,
        schedule=config.sync.reconcile_schedule,
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Tehran"),
        catchup=False,
        max_active_runs=1,
        tags=["hamgam", "tadbir_to_payamgostar", "reconcile"],
        default_args=default_args(config),
        params={"allow_mass_delete": ALLOW_MASS_DELETE},
        doc_md=f"""
### The daily reconcile: Tadbir against the ledger and the CRM
Every company and entity is read in full (change capture `scan`, the ground truth) after its fast change
capture (`checksum` or `change_tracking`) has run; every change the scan finds that the fast capture had
not queued is a miss: logged by key by `detect`, synced by `load`, its key ranges read again by the next
fast run, and the `report` task fails naming them (an alert: a miss means a checksum collision or a
change Tadbir did not track). Then `drift` writes the drift report to the ledger: per company, entity and
fiscal year the count and Σ amount in Tadbir, the ledger and the CRM (read back through its API) and the
keys that differ each way; it fails naming company, entity, year and keys when a difference is neither set
aside nor queued (the hamgam page shows the latest report). Schedule: `{config.sync.reconcile_schedule}`
(`sync.reconcile_schedule`). Entities: {", ".join(entities)}.
""",
    )
    def drift_report():
        # both leaves: either failing turns the run red
        synced = _in_layers(entities, config, DRIFT_REPORT, per_fiscal_year=False, reconcile=True)
        synced >> _report_task(entities, DRIFT_REPORT, reconcile=True)
        synced >> _drift_task(entities)

    return drift_report()


REVERSE_DAGS = {source: spec.dag_id for source, spec in REVERSE_SPECS.items()}  # webhook source -> DAG id


def reverse_dag(source: str, config: HamgamConfig) -> DAG:
    """CRM → Tadbir for identities ("customer") or quotes ("salequote"): on every webhook (asset event)
    and on the sweep's schedule, collect the changed CRM items and apply them to Tadbir."""
    from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

    from hamgam.webapp.events import ASSET_URIS as REVERSE_ASSETS  # the web app emits these on each webhook

    dag_id = REVERSE_DAGS[source]
    what = REVERSE_SPECS[source].name
    asset = Asset(REVERSE_ASSETS[source])
    schedule: Any = [asset]
    if config.reverse.sweep_schedule:
        schedule = AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(config.reverse.sweep_schedule, timezone="Asia/Tehran"), assets=[asset])

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Tehran"),
        catchup=False,
        max_active_runs=1,
        tags=["hamgam", "payamgostar_to_tadbir", what],
        default_args=default_args(config),
        params={"sweep": Param(True, type="boolean", description="Also look for CRM items modified since the "
                                                                 "last sweep (webhooks that never arrived).")},
        doc_md=f"""
### Payamgostar → Tadbir: {what}
Runs on every Payamgostar webhook for {what} (the hamgam web app stores the event and emits
`{REVERSE_ASSETS[source]}`) and on the sweep schedule (`reverse.sweep_schedule`), which also picks up
CRM items modified since the last sweep whose webhook never arrived. Each item is fetched from the CRM,
checked, routed to its company and fiscal year by its number, and written into Tadbir in one
transaction, following the system-of-record settings; what cannot be written is recorded in the ledger
with the reason (entities `crm_identities` / `crm_quotes`) and logged by `apply`.
""",
    )
    def reverse():
        @task(pool=CRM_POOL, multiple_outputs=False)
        def collect() -> dict[str, Any]:
            from hamgam.reverse import run

            return run.collect(source, sweep=bool(get_current_context()["params"].get("sweep", True)))

        @task(pool=CRM_POOL, multiple_outputs=False)
        def apply(collected: dict[str, Any]) -> dict[str, int]:
            from hamgam.reverse import run

            return run.apply(collected, run_id=get_current_context()["run_id"])

        apply(collect())

    return reverse()


def build_dags(config: HamgamConfig, *, only: str | None = None) -> dict[str, DAG]:
    """Every hamgam DAG by id, or only the DAG ``only`` names (a worker parsing the file to run one of its
    tasks: ``airflow.sdk.get_parsing_context().dag_id``), which keeps a task's start-up short."""
    factories: dict[str, Any] = {SPECS[name].dag_id: (lambda n=name: forward_dag(n, config)) for name in SPECS}
    factories[BY_FISCAL_YEAR] = lambda: by_fiscal_year_dag(config)
    factories[DRIFT_REPORT] = lambda: drift_report_dag(config)
    factories.update({dag_id: (lambda s=source: reverse_dag(s, config)) for source, dag_id in REVERSE_DAGS.items()})
    if only in factories:
        return {only: factories[only]()}
    return {dag_id: factory() for dag_id, factory in factories.items()}
