"""The hamgam page's routes, behind Airflow's login (``airflow_side``): the page (``/``), its data
(``/api/dashboard/...``) and its actions (resend, transfer all), each recorded in Airflow's audit log.

An anonymous request gets 401 (the data API) or a redirect to Airflow's login (the page). The actions are
POSTs that need the header ``X-Hamgam-Confirmed: yes``, which the page's script sends after the person
confirms; a form on another site cannot send it, so the session cookie alone cannot trigger anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hamgam.dashboard import chart, page, records, resend
from hamgam.dashboard.overview import overview
from hamgam.ledger.models import EVENT_STATUSES
from hamgam.webapp.airflow_side import (
    OUTSIDE_AIRFLOW,
    Audit,
    LoginUrl,
    MayRun,
    Trigger,
    UserResolver,
    Viewer,
    resolve_viewer,
)

if TYPE_CHECKING:
    from hamgam.ledger import Ledger
    from hamgam.settings import HamgamConfig

log = logging.getLogger(__name__)

CONFIRM_HEADER = "X-Hamgam-Confirmed"
RESEND_EVENT, TRANSFER_EVENT = "hamgam.resend", "hamgam.transfer_all"


class RecordKeys(BaseModel):
    company: int | None = None
    entity: str | None = None
    keys: list[str] | None = Field(default=None, description="Tadbir keys (numbers) of the records to resend")
    filter: dict[str, str] | None = Field(default=None, description=(
        "Instead of keys: every record the page's filter shows (company, entity, status, fiscal_year, q)"))


class TransferAll(BaseModel):
    entity: str


def parse_filter(company: str | None, entity: str | None, status: str | None, fiscal_year: str | None,
                 q: str | None, entities: list[str]) -> records.RecordFilter:
    """The page's filter from its query parameters; 400 naming the wrong one."""
    def number(name: str, value: str | None) -> int | None:
        if not value or not value.strip():
            return None
        if not value.strip().isdigit():
            raise HTTPException(400, f"{name} must be a number; got {value[:40]!r}")
        return int(value)

    if entity and entity not in entities:
        raise HTTPException(400, f"entity must be one of {', '.join(entities)}; got {entity[:40]!r}")
    statuses = tuple(s.strip() for s in (status or "").split(",") if s.strip()) or records.NEEDS_PERSON
    wrong = [s for s in statuses if s not in records.LISTABLE]
    if wrong:
        raise HTTPException(400, f"status must be among {', '.join(records.LISTABLE)}; got {wrong[0][:40]!r}")
    return records.RecordFilter(number("company", company), entity or None, statuses,
                                number("fiscal_year", fiscal_year), (q or "").strip() or None)


def dashboard_router(*, ledger: Callable[[], Ledger], config: Callable[[], HamgamConfig],
                     resolve_user: UserResolver, may_run: MayRun, trigger: Trigger, audit: Audit,
                     login_url: LoginUrl,
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    router = APIRouter()

    async def viewer(request: Request) -> Viewer:
        return await resolve_viewer(request, resolve_user)

    # dependencies as default values: these closures are not module globals, where FastAPI resolves annotations
    as_user = Depends(viewer)

    def scope() -> list[tuple[int, str, str]]:
        from hamgam.entities import SPECS

        cfg = config()
        return [(company, name, spec.dag_id) for name, spec in SPECS.items() for company in cfg.companies_for(name)]

    def entities() -> list[str]:
        from hamgam.entities import SPECS

        return list(SPECS)

    def dag_of(entity: str) -> str:
        from hamgam.entities import SPECS

        if entity not in SPECS:
            raise HTTPException(400, f"entity must be one of {', '.join(SPECS)}; got {entity[:40]!r}")
        return SPECS[entity].dag_id

    def page_filter(company: str | None = None, entity: str | None = None, status: str | None = None,
                    fiscal_year: str | None = None, q: str | None = None) -> records.RecordFilter:
        return parse_filter(company, entity, status, fiscal_year, q, entities())

    by_filter = Depends(page_filter)

    def allowed(user: Viewer, dag_ids: set[str]) -> None:
        refused = sorted(d for d in dag_ids if not may_run(user, d))
        if refused:
            raise HTTPException(403, f"{user.name} may not trigger {', '.join(refused)} in Airflow: nothing was "
                                     "queued")

    def confirmed(value: str | None) -> None:
        if (value or "").lower() != "yes":
            raise HTTPException(400, f"an action needs the header {CONFIRM_HEADER}: yes (the page sends it once "
                                     "you confirm)")

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def the_page(request: Request) -> Response:
        try:
            user = await viewer(request)
        except HTTPException as exc:
            if exc.status_code not in (401, 403):
                raise
            try:
                return RedirectResponse(login_url(str(request.url)), status_code=303)
            except Exception as missing:  # no auth manager: the app runs outside Airflow
                log.warning("no login page to send %s to: %s", request.url.path, missing)
                raise HTTPException(503, OUTSIDE_AIRFLOW) from None
        given = request.query_params
        flt = parse_filter(given.get("company"), given.get("entity"), given.get("status"), given.get("fiscal_year"),
                           given.get("q"), entities())
        return HTMLResponse(await _in_thread(render_page, user, flt, request))

    def render_page(user: Viewer, flt: records.RecordFilter, request: Request) -> str:
        now = clock()
        opened = ledger()
        rows = overview(opened, scope())
        found = records.find(opened, flt, limit=500)
        counts = {"received": opened.count_events(), **{s: opened.count_events(status=s) for s in EVENT_STATUSES}}
        airflow = _airflow_root(request)
        return page.render(
            user=user.name, now=now, airflow=airflow, overview=page.overview_table(rows, now, airflow),
            filters=page.filter_form(flt, sorted({c for c, _, _ in scope()}), entities()),
            records=page.records_table(found, flt, 500), events=page.events_table(counts, opened.events(limit=50)),
            chart=chart.svg(chart.activity(opened, now)), drift=page.drift_table(_latest_drift(opened)))

    @router.get("/api/dashboard/overview", summary="Per company and entity: records per status, the queue, the "
                "last successful run (Airflow login)")
    def overview_data(user: Viewer = as_user) -> dict[str, Any]:
        now = clock()
        return {"at": now.isoformat(), "rows": [row.as_json(now) for row in overview(ledger(), scope())]}

    @router.get("/api/dashboard/drift", summary="The latest drift report of hamgam_drift_report, or null "
                "(Airflow login)")
    def drift_data(user: Viewer = as_user) -> dict[str, Any] | None:
        return _latest_drift(ledger())

    @router.get("/api/dashboard/records", summary="The records that need a person, filtered (Airflow login)")
    def records_data(user: Viewer = as_user, flt: records.RecordFilter = by_filter,
                     limit: Annotated[int, Query(ge=1, le=records.MAX_ROWS)] = 500) -> dict[str, Any]:
        found = records.find(ledger(), flt, limit=limit)
        return {"count": len(found), "records": [r.as_json() for r in found]}

    @router.get("/api/dashboard/records.csv", summary="The records that need a person as CSV (Airflow login)",
                response_class=Response)
    def records_csv(user: Viewer = as_user, flt: records.RecordFilter = by_filter) -> Response:
        text = records.to_csv(records.find(ledger(), flt))
        return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                        headers={"Content-Disposition": 'attachment; filename="hamgam-records.csv"'})

    @router.get("/api/dashboard/events", summary="The webhook event log: counts and the latest events (Airflow "
                "login)")
    def events_data(user: Viewer = as_user, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        opened = ledger()
        return {"counts": {"received": opened.count_events(),
                           **{s: opened.count_events(status=s) for s in EVENT_STATUSES}},
                "events": [{**vars(e), "received_at": e.received_at.isoformat(),
                            "last_received_at": e.last_received_at.isoformat(),
                            "processed_at": e.processed_at.isoformat() if e.processed_at else None}
                           for e in opened.events(limit=limit)]}

    @router.get("/api/dashboard/chart.svg", summary="Records synced per hour and set aside per day, per entity "
                "(Airflow login)", response_class=Response)
    def chart_svg(user: Viewer = as_user) -> Response:
        return Response(chart.svg(chart.activity(ledger(), clock())), media_type="image/svg+xml")

    @router.post("/api/dashboard/resend", summary="Queue records again and trigger their entity's DAG as the "
                 "logged-in user (Airflow login; header X-Hamgam-Confirmed: yes)")
    def resend_records(request: Request, body: RecordKeys, user: Viewer = as_user,
                       confirmation: Annotated[str | None, Header(alias=CONFIRM_HEADER)] = None) -> dict[str, Any]:
        confirmed(confirmation)
        opened = ledger()
        if body.keys is not None:
            if body.company is None or not body.entity:
                raise HTTPException(400, "resend of keys needs company and entity")
            dag_of(body.entity)
            chosen = {(body.company, body.entity): list(body.keys)}
        elif body.filter is not None:
            f = body.filter
            flt = parse_filter(f.get("company"), f.get("entity"), f.get("status"), f.get("fiscal_year"), f.get("q"),
                               entities())
            chosen = {}
            for rec in records.find(opened, flt, limit=records.MAX_ROWS):
                chosen.setdefault((rec.company, rec.entity), []).append(rec.tadbir_key)
        else:
            raise HTTPException(400, "give keys (with company and entity) or filter")
        allowed(user, {dag_of(entity) for _, entity in chosen})
        marked = {f"{company} {entity}": resend.request_resend(opened, company, entity, keys)
                  for (company, entity), keys in chosen.items()}
        runs = {}
        for entity in sorted({entity for _, entity in chosen}):
            dag_id = dag_of(entity)
            run = trigger(request, user, dag_id, {}, f"resend by {user.name} from the hamgam page")
            runs[dag_id] = run.get("dag_run_id")
        # the audit line names up to 50 keys per company and entity (a filter may hold thousands)
        extra = {"records": marked, "keys": {f"{c} {e}": keys[:50] for (c, e), keys in chosen.items()}, "runs": runs}
        audit(user, RESEND_EVENT, next(iter(runs), None), extra)
        total = sum(marked.values())
        log.info("resend by %s: %d record(s) queued, runs %s", user.name, total, runs)
        return {"message": f"{total} record(s) queued again; triggered "
                           f"{', '.join(f'{d} ({r})' for d, r in runs.items()) or 'nothing'}",
                "queued": marked, "runs": runs}

    @router.post("/api/dashboard/transfer-all", summary="Full resync of one entity for every company, as the "
                 "logged-in user (Airflow login; header X-Hamgam-Confirmed: yes)")
    def transfer_all(request: Request, body: TransferAll, user: Viewer = as_user,
                     confirmation: Annotated[str | None, Header(alias=CONFIRM_HEADER)] = None) -> dict[str, Any]:
        confirmed(confirmation)
        dag_id = dag_of(body.entity)
        allowed(user, {dag_id})
        run = trigger(request, user, dag_id, {"full_resync": True},
                      f"transfer all (full resync) by {user.name} from the hamgam page")
        audit(user, TRANSFER_EVENT, dag_id, {"entity": body.entity, "run": run.get("dag_run_id")})
        return {"message": f"{dag_id} triggered with full_resync: run {run.get('dag_run_id')}",
                "runs": {dag_id: run.get("dag_run_id")}}

    return router


def _latest_drift(ledger: Ledger) -> dict[str, Any] | None:
    from hamgam.drift import latest_drift_report  # the drift module brings the pipeline: only when asked

    return latest_drift_report(ledger)


def _airflow_root(request: Request) -> str:
    """Airflow's UI root as a path on this server (the page links to the DAG and its runs)."""
    root = request.scope.get("root_path", "")
    return root[: -len("/hamgam")] if root.endswith("/hamgam") else ""


async def _in_thread(fn: Callable[..., str], *args: Any) -> str:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
