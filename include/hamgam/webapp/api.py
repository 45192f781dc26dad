"""The hamgam web app (FastAPI): Payamgostar's webhooks in, the CRM's live stock and balance reads out.

Routes, in the vendor synchronizer's style (vendor-sync-spec; payamgostar-api section 6):

- ``GET /api/sync/customer`` and ``GET /api/sync/salequote``: the webhooks the CRM calls on Insert,
  Update and Delete of an identity or a quote, with query parameters ``event``, ``id`` (the record's
  CRM id, a GUID), ``type``, ``subtype`` and the shared secret ``token``; or the secret as a path segment,
  ``GET /api/sync/<secret>/customer`` (a CRM may not append its parameters to a URL that already has a
  query). The event is stored in the
  ledger (at most one pending event per record), the answer is ``{"stored": true|false}`` at once, and
  then Airflow is told (an asset event, ``hamgam.webapp.events.ASSET_URIS``) so the reverse DAG runs.
- ``GET /api/inventory/{companyCode}`` and ``GET /api/inventory``: stock per product and warehouse,
  read live from Tadbir (``hamgam.webapp.inventory``); optional ``exclude_warehouses`` (codes, repeated
  or comma-separated) and ``fiscal_year`` (Jalali; default the current period).
- ``GET /api/balance/{companyCode}/{customerNumber}``: a customer's balance, read live from Tadbir's
  vouchers (``hamgam.webapp.balance``); optional ``fiscal_year``.
- ``GET /api/events``: the latest webhook events and the count per status (for a dashboard).
- The hamgam page (``/``) and its data and actions (``/api/dashboard/...``; ``hamgam.webapp.dashboard``): behind
  Airflow's own login, not the shared secret.
- ``GET /docs``: this API's documentation, rendered on the server (works offline; ``openapi.json`` beside it).
- ``GET /health``: no secret needed, touches nothing (``instance``: the nonce the app was started with, if
  any, so whoever started it knows it is talking to its own server).

Every parameter and answer (400 naming the wrong parameter, 401, 503 where the app cannot work) is in the
app's OpenAPI document (``/openapi.json``). A control character (NUL included) in ``type`` or ``subtype``
is a bad request: such an event could never be stored (PostgreSQL refuses NUL), so "try again" would
never help.

Every other ``/api`` route needs the shared secret: the password of the Airflow connection ``hamgam_webhook``
(in the demo and tests ``AIRFLOW_CONN_HAMGAM_WEBHOOK``), given as the ``token`` query parameter (all
Payamgostar can send: a URL), as the path segment of a webhook (``/api/sync/<secret>/<source>``) or as
``Authorization: Bearer <secret>``. It is compared in constant time, looked up at request time and cached
for a minute; the app logs no secret (Airflow's access log masks a query parameter named ``token``; the
app masks the path segment in the request's path once it has answered (``MaskPathSecret``), which is what
the access logs around it read; ``python -m hamgam.webapp`` installs a masking access log of its own).

Nothing is resolved at import or at ``create_app``: the connection, the ledger (``Ledger.connect``, which
also brings its schema up to date) and Tadbir are reached on the first request that needs them.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from hamgam.ledger.models import EVENT_KINDS, EVENT_SOURCES, EVENT_STATUSES
from hamgam.webapp import airflow_side, docs_page
from hamgam.webapp.dashboard import dashboard_router
from hamgam.webapp.events import ASSET_URIS, WEBHOOK_CONN_ID
from hamgam.webapp.notify import Notify, airflow_asset_event, notify_safely

if TYPE_CHECKING:
    from hamgam.ledger import Ledger

log = logging.getLogger(__name__)

SECRET_TTL_SECONDS = 60.0
_MAX_TYPE, _MAX_SUBTYPE = 100, 250  # the ledger's column widths
_T = TypeVar("_T")


class Cached:
    """``fn()``'s value, kept for ``ttl`` seconds; failures (exceptions, None) are not kept."""

    def __init__(self, fn: Callable[[], _T], ttl: float = SECRET_TTL_SECONDS) -> None:
        self._fn, self._ttl = fn, ttl
        self._value: Any = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._value is not None and time.monotonic() < self._expires:
                return self._value
            value = self._fn()
            if value is not None:
                self._value, self._expires = value, time.monotonic() + self._ttl
            return value


def webhook_secret() -> str | None:
    """The shared secret: the password of the Airflow connection ``hamgam_webhook``.

    ``airflow.sdk.BaseHook.get_connection`` works in the API server (environment variables, the
    configured secrets backend, then Airflow's database) as well as in a plain process (environment
    variables and secrets backends); it also registers the password with Airflow's secrets masker.
    """
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(WEBHOOK_CONN_ID).password or None


def ledger_url() -> str:
    """The ledger's URL, from the connection named by ``sync.state_conn_id`` (as the DAGs open it)."""
    from hamgam.config import load_config
    from hamgam.connections import sqlalchemy_url

    return sqlalchemy_url(load_config().sync.state_conn_id)


class _Ledgers:
    """One opened (and migrated) ledger per URL, for the life of the process."""

    def __init__(self) -> None:
        self._opened: dict[str, Ledger] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> Ledger:
        with self._lock:
            ledger = self._opened.get(url)
            if ledger is None:
                from hamgam.ledger import Ledger

                ledger = self._opened[url] = Ledger.connect(url)
            return ledger

    def dispose(self) -> None:
        with self._lock:
            for ledger in self._opened.values():
                ledger.dispose()
            self._opened.clear()


def _bad_request(message: str) -> HTTPException:
    return HTTPException(400, message)


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _control_character(value: str) -> str | None:
    """The first control character (Unicode category Cc: NUL, C0, DEL, C1) in ``value``, if any. Format
    characters such as the zero-width non-joiner Persian text needs are not control characters."""
    return next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)


def parse_webhook(query: Any) -> dict[str, Any]:
    """The webhook's query parameters, checked; raises a 400 naming the parameter that is wrong."""
    event = (query.get("event") or "").strip()
    if not event:
        raise _bad_request(f"query parameter 'event' is required ({', '.join(EVENT_KINDS)})")
    kind = next((k for k in EVENT_KINDS if k.lower() == event.lower()), None)
    if kind is None:
        raise _bad_request(f"query parameter 'event' must be one of {', '.join(EVENT_KINDS)}; got {_shown(event)}")
    raw_id = (query.get("id") or "").strip()
    if not raw_id:
        raise _bad_request("query parameter 'id' is required (the record's CRM id, a GUID)")
    try:
        crm_id = str(uuid.UUID(raw_id))
    except ValueError:
        raise _bad_request(f"query parameter 'id' must be the record's CRM id (a GUID); got {_shown(raw_id)}") from None
    crm_type = (query.get("type") or "").strip() or None
    subtype = (query.get("subtype") or "").strip() or None
    for name, value, limit in (("type", crm_type, _MAX_TYPE), ("subtype", subtype, _MAX_SUBTYPE)):
        if value is None:
            continue
        if len(value) > limit:
            raise _bad_request(f"query parameter '{name}' is longer than {limit} characters")
        control = _control_character(value)
        if control is not None:
            raise _bad_request(f"query parameter '{name}' contains a control character (U+{ord(control):04X}), "
                               "which no CRM type name has; the event is not stored")
    return {"event": kind, "crm_id": crm_id, "crm_type": crm_type, "subtype": subtype}


def _split_codes(values: list[str]) -> list[str]:
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def _int_param(name: str, value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise _bad_request(f"{name} must be a number; got {_shown(value)}") from None


class Problem(BaseModel):
    """Every error answer: what is wrong, in words."""

    detail: str


class WebhookAnswer(BaseModel):
    stored: bool  # false: an event of the same record was still pending, so it was not stored again


class BalanceAnswer(BaseModel):
    companyCode: int  # noqa: N815 (the vendor's style of field names)
    customerNumber: str  # noqa: N815
    customerCode: str  # noqa: N815
    name: str
    fiscalYear: int  # noqa: N815
    debit: int
    credit: int
    balance: int  # debit - credit, in Rials: positive, the customer owes the company


class StockLineAnswer(BaseModel):
    productCode: str  # noqa: N815 (the vendor's field names)
    productName: str  # noqa: N815
    warehouseCode: str  # noqa: N815
    warehouseName: str  # noqa: N815
    quantity: float


# the webhooks' path form, /api/sync/<secret>/<source>: the secret segment, wherever the app is mounted
_PATH_SECRET = re.compile(r"(/api/sync/)[^/]+(/[^/]+/?)$")


def mask_path(path: str) -> str:
    """``path`` with the secret segment of a webhook's path form replaced by ``***``."""
    return _PATH_SECRET.sub(r"\1***\2", path)


@dataclass(frozen=True)
class WebhookRequest:
    """What a webhook request carries besides its source and path: the event's parameters and the secret."""

    query: dict[str, str | None]
    token: str | None
    authorization: str | None


class MaskPathSecret:
    """ASGI middleware: once the app has routed the request and answers, the request's path (``scope["path"]``
    and ``raw_path``) has the secret segment masked. Access logs read the path from the scope as the answer
    starts (uvicorn's) or after it (Airflow's API server; a mounted app shares the server's scope), so none
    of them sees the secret."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def _mask(scope: dict[str, Any]) -> None:
        scope["path"] = mask_path(scope["path"])
        if isinstance(scope.get("raw_path"), bytes):
            scope["raw_path"] = mask_path(scope["raw_path"].decode("latin-1")).encode("latin-1")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _PATH_SECRET.search(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def masking_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self._mask(scope)
            await send(message)

        try:
            await self.app(scope, receive, masking_send)
        finally:
            self._mask(scope)


def _answer(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


UNAUTHORIZED = _answer("The shared secret is missing or wrong (the `token` query parameter, the webhook's "
                       "path segment or `Authorization: Bearer <secret>`); nothing was stored or read")
NO_SECRET = "the shared secret is not configured (Airflow connection hamgam_webhook)"

# the parameters every /api route reads
Token = Annotated[str | None, Query(description="The shared secret: the password of the Airflow connection "
                                                "`hamgam_webhook` (or give it as `Authorization: Bearer`)")]
Authorization = Annotated[str | None, Header(description="`Bearer <secret>`, instead of the `token` parameter")]
PathSecret = Annotated[str, Path(description="The shared secret as a path segment, instead of the `token` "
                                             "parameter (masked in the access logs)")]
ExcludeWarehouses = Annotated[list[str] | None, Query(description=(
    "Warehouse codes to leave out: repeated, or comma-separated"))]
FiscalYear = Annotated[str | None, Query(description=(
    "The Jalali fiscal year to read, e.g. 1404 (default: the current fiscal period)"))]


def webhook_query(
    token: Token = None,
    event: Annotated[str | None, Query(description=f"What happened: {', '.join(EVENT_KINDS)} "
                                                   "(required; any case)")] = None,
    crm_id: Annotated[str | None, Query(alias="id", description="The record's CRM id, a GUID (required)")
                      ] = None,
    crm_type: Annotated[str | None, Query(alias="type", description=(
        f"The CRM type of the record, e.g. Identity or Quote (at most {_MAX_TYPE} characters, no "
        "control characters)"))] = None,
    subtype: Annotated[str | None, Query(description=(
        f"The CRM subtype's name, e.g. مخاطب حقیقی (at most {_MAX_SUBTYPE} characters, no control "
        "characters)"))] = None,
    authorization: Authorization = None,
) -> WebhookRequest:
    """The parameters both forms of a webhook read (a FastAPI dependency)."""
    return WebhookRequest({"event": event, "id": crm_id, "type": crm_type, "subtype": subtype}, token,
                          authorization)

Webhook = Annotated[WebhookRequest, Depends(webhook_query)]


def create_app(*, ledger_url_resolver: Callable[[], str] | None = None,
               secret_resolver: Callable[[], str | None] | None = None,
               notify: Notify | None = None, instance: str | None = None,
               user_resolver: airflow_side.UserResolver | None = None, may_run: airflow_side.MayRun | None = None,
               trigger: airflow_side.Trigger | None = None, audit: airflow_side.Audit | None = None,
               login_url: airflow_side.LoginUrl | None = None) -> FastAPI:
    """The web app. Nothing is looked up here; everything is resolved when a request needs it.

    ``ledger_url_resolver()``: the ledger's SQLAlchemy URL (default: the ``sync.state_conn_id``
    connection, as the DAGs use). ``secret_resolver()``: the shared secret, or None when none is set
    (default: the ``hamgam_webhook`` connection's password, cached for a minute). ``notify(asset_uri,
    extra)``: called after the answer to a valid webhook (default: an Airflow asset event, for the app
    running inside the Airflow API server; ``hamgam.webapp.notify.log_only`` without Airflow).
    ``instance``: a nonce ``/health`` answers with, so whoever started the app can tell it from another
    server on the same port. ``user_resolver``, ``may_run``, ``trigger``, ``audit``, ``login_url``: who is logged in,
    whether they may run a DAG, how it is triggered as them, where actions are recorded, where to log in (default: the Airflow API server's own,
    ``hamgam.webapp.airflow_side``).
    """
    resolve_url = ledger_url_resolver or Cached(ledger_url)
    resolve_secret = secret_resolver or Cached(webhook_secret)
    notifier = notify or airflow_asset_event
    ledgers = _Ledgers()

    # docs_url=None: FastAPI's Swagger UI loads its assets from a CDN; /docs below is rendered here instead
    app = FastAPI(title="hamgam", version="1", docs_url=None, redoc_url=None,
                  description="Payamgostar webhooks and live reads of Tadbir for the hamgam synchronizer, and the "
                              "data team's page (behind Airflow's login).")
    app.state.ledgers = ledgers
    app.add_middleware(MaskPathSecret)

    def authorize(request: Request, token: str | None, authorization: str | None,
                  path_secret: str | None = None) -> None:
        """The request carries the shared secret: in the path (which then decides), the ``token`` parameter
        or the ``Authorization`` header."""
        try:
            secret = resolve_secret()
        except Exception as exc:
            log.error("the webhook secret cannot be read (Airflow connection %r): %s", WEBHOOK_CONN_ID,
                      type(exc).__name__)
            raise HTTPException(503, f"the shared secret is not configured (Airflow connection "
                                     f"{WEBHOOK_CONN_ID!r})") from None
        if not secret:
            log.error("the Airflow connection %r has no password: every request is refused", WEBHOOK_CONN_ID)
            raise HTTPException(503, f"the shared secret is not configured (Airflow connection {WEBHOOK_CONN_ID!r})")
        given = path_secret if path_secret is not None else token
        if given is None:
            scheme, _, credentials = (authorization or "").partition(" ")
            given = credentials.strip() if scheme.lower() == "bearer" else None
        if not given or not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            client = request.client.host if request.client else "?"
            log.warning("refused %s %s from %s: %s token", request.method, mask_path(request.url.path), client,
                        "wrong" if given else "no")
            raise HTTPException(401, "missing or wrong token", headers={"WWW-Authenticate": "Bearer"})

    def ledger() -> Ledger:
        try:
            return ledgers.get(resolve_url())
        except Exception as exc:
            log.exception("the ledger cannot be opened")
            raise HTTPException(503, "the ledger is not available; try again later") from exc

    def config() -> Any:
        from hamgam.config import load_config

        return load_config()

    app.include_router(dashboard_router(
        ledger=ledger, config=config, resolve_user=user_resolver or airflow_side.airflow_user,
        may_run=may_run or airflow_side.airflow_may_run,
        trigger=trigger or airflow_side.trigger_as_user, audit=audit or airflow_side.airflow_audit,
        login_url=login_url or airflow_side.airflow_login_url))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page.render(app.openapi()))

    @app.get("/health", summary="Is the app up (no secret needed, touches nothing)")
    def health() -> dict[str, str]:
        return {"status": "ok", **({"instance": instance} if instance else {})}

    def webhook(source: str, request: Request, background: BackgroundTasks, query: dict[str, str | None],
                token: str | None, authorization: str | None, path_secret: str | None = None) -> dict[str, bool]:
        from sqlalchemy.exc import DataError

        authorize(request, token, authorization, path_secret)
        params = parse_webhook(query)
        try:
            stored = ledger().store_event(source, **params)
        except HTTPException:
            raise
        except DataError as exc:  # the database refuses these values: trying again cannot help
            log.warning("webhook %s %s %s refused by the ledger's database: %s", source, params["event"],
                        params["crm_id"], exc.orig)
            raise HTTPException(400, "the event's parameters cannot be stored") from None
        except Exception as exc:
            log.exception("webhook %s %s %s could not be stored", source, params["event"], params["crm_id"])
            raise HTTPException(503, "the event could not be stored; try again later") from exc
        log.info("webhook %s %s %s: %s", source, params["event"], params["crm_id"],
                 "stored" if stored else "already pending, not stored again")
        extra = {"source": source, "event": params["event"], "crm_id": params["crm_id"], "stored": stored}
        # After the answer (the CRM does not wait for Airflow); failures are logged, not raised.
        background.add_task(notify_safely, notifier, ASSET_URIS[source], extra)
        return {"stored": stored}

    def webhook_route(source: str) -> Callable[..., dict[str, bool]]:
        def route(request: Request, background: BackgroundTasks, given: Webhook) -> dict[str, bool]:
            return webhook(source, request, background, given.query, given.token, given.authorization)

        return route

    def webhook_route_with_path_secret(source: str) -> Callable[..., dict[str, bool]]:
        def route(secret: PathSecret, request: Request, background: BackgroundTasks, given: Webhook
                  ) -> dict[str, bool]:
            return webhook(source, request, background, given.query, given.token, given.authorization, secret)

        return route

    webhook_answers: dict[int | str, dict[str, Any]] = {
        400: _answer("A parameter is missing or wrong (named in `detail`); nothing was stored, and sending "
                     "the same request again cannot help"),
        401: UNAUTHORIZED,
        503: _answer(f"The event could not be stored now ({NO_SECRET}, or the ledger is not available); "
                     "the CRM should send it again later"),
    }
    for source in EVENT_SOURCES:
        app.add_api_route(f"/api/sync/{source}", webhook_route(source), methods=["GET"], name=f"webhook_{source}",
                          summary=f"Payamgostar webhook: a {source} was inserted, updated or deleted",
                          response_model=WebhookAnswer, responses=webhook_answers)
        app.add_api_route(f"/api/sync/{{secret}}/{source}", webhook_route_with_path_secret(source), methods=["GET"],
                          name=f"webhook_{source}_secret_in_path",
                          summary=f"Payamgostar webhook: a {source} was inserted, updated or deleted (the secret "
                                  "in the path)", response_model=WebhookAnswer, responses=webhook_answers)

    stock_answers: dict[int | str, dict[str, Any]] = {
        400: _answer("`companyCode` or `fiscal_year` is not a number"),
        401: UNAUTHORIZED,
        404: _answer("The company is not configured, or its Tadbir has no such fiscal year"),
        502: _answer("The company's Tadbir database could not be read"),
        503: _answer(f"{NO_SECRET}, or the company's Tadbir has no stock table (or column) where the settings "
                     "say: `table`, `missing_columns` and `settings` name it"),
    }

    def stock(request: Request, company_text: str | None, token: str | None, authorization: str | None,
              exclude_warehouses: list[str] | None, fiscal_year_text: str | None) -> JSONResponse:
        from hamgam.config import load_config
        from hamgam.connections import engine_for
        from hamgam.webapp.inventory import InventoryError, inventory

        authorize(request, token, authorization)  # the secret before the parameters are looked at
        company = None if company_text is None else _int_param("path parameter 'companyCode'", company_text)
        exclude = _split_codes(exclude_warehouses or [])
        fiscal_year = _int_param("query parameter 'fiscal_year'", fiscal_year_text)
        try:
            config = load_config()
            lines = inventory(config, company, engine_for=lambda conn_id: engine_for(conn_id, config),
                              exclude_warehouses=exclude, fiscal_year=fiscal_year)
        except InventoryError as exc:
            if exc.status >= 500:
                log.error("inventory of company %s: %s", company if company is not None else "(default)", exc,
                          exc_info=exc.__cause__)
            if exc.details:  # what is missing, for a program: the table, its columns, the settings naming them
                return JSONResponse({"detail": str(exc), **exc.details}, status_code=exc.status)
            raise HTTPException(exc.status, str(exc)) from None
        return JSONResponse(lines)

    @app.get("/api/inventory", summary="Stock per product and warehouse of the default company (or all)",
             response_model=list[StockLineAnswer], responses=stock_answers)
    def inventory_default(request: Request, token: Token = None, exclude_warehouses: ExcludeWarehouses = None,
                          fiscal_year: FiscalYear = None, authorization: Authorization = None) -> JSONResponse:
        return stock(request, None, token, authorization, exclude_warehouses, fiscal_year)

    @app.get("/api/inventory/{companyCode}", summary="Stock per product and warehouse of one company",
             response_model=list[StockLineAnswer], responses=stock_answers)
    def inventory_of(request: Request,
                     companyCode: Annotated[str, Path(description="The company's code, e.g. 100")],  # noqa: N803
                     token: Token = None, exclude_warehouses: ExcludeWarehouses = None,
                     fiscal_year: FiscalYear = None, authorization: Authorization = None) -> JSONResponse:
        return stock(request, companyCode, token, authorization, exclude_warehouses, fiscal_year)

    balance_answers: dict[int | str, dict[str, Any]] = {
        400: _answer("`companyCode` or `fiscal_year` is not a number, or the customer number does not fit the "
                     "identities' numbering template"),
        401: UNAUTHORIZED,
        404: _answer("The company is not configured, its Tadbir has no such fiscal year, or no such customer"),
        502: _answer("The company's Tadbir database could not be read"),
        503: _answer(f"{NO_SECRET}, or the company's Tadbir has no voucher-line table (or column) where the "
                     "settings say: `table`, `missing_columns` and `settings` name it"),
    }

    @app.get("/api/balance/{companyCode}/{customerNumber}", summary="A customer's balance, read live from Tadbir",
             response_model=BalanceAnswer, responses=balance_answers)
    def balance(request: Request,
                companyCode: Annotated[str, Path(description="The company's code, e.g. 100")],  # noqa: N803
                customerNumber: Annotated[str, Path(description="The customer's CRM number, e.g. 100-10255 "  # noqa: N803
                                                    "(or its code alone)")],
                token: Token = None, fiscal_year: FiscalYear = None,
                authorization: Authorization = None) -> JSONResponse:
        from hamgam.config import load_config
        from hamgam.connections import engine_for
        from hamgam.webapp.balance import customer_balance
        from hamgam.webapp.inventory import InventoryError

        authorize(request, token, authorization)  # the secret before the parameters are looked at
        company = _int_param("path parameter 'companyCode'", companyCode)
        if company is None:
            raise _bad_request("path parameter 'companyCode' must be a number; got ''")
        year = _int_param("query parameter 'fiscal_year'", fiscal_year)
        try:
            config = load_config()
            found = customer_balance(config, company, customerNumber.strip(),
                                     engine_for=lambda conn_id: engine_for(conn_id, config), fiscal_year=year)
        except InventoryError as exc:
            if exc.status >= 500:
                log.error("balance of customer %s of company %s: %s", _shown(customerNumber), company, exc,
                          exc_info=exc.__cause__)
            if exc.details:
                return JSONResponse({"detail": str(exc), **exc.details}, status_code=exc.status)
            raise HTTPException(exc.status, str(exc)) from None
        return JSONResponse(found.as_json())

    @app.get("/api/events", summary="The latest webhook events and the number per status", responses={
        400: _answer("`source` or `limit` is wrong"), 401: UNAUTHORIZED,
        503: _answer(f"{NO_SECRET}, or the ledger is not available")})
    def events(
        request: Request, token: Token = None,
        source: Annotated[str | None, Query(description=f"Only this webhook: {', '.join(EVENT_SOURCES)}")] = None,
        limit: Annotated[str | None, Query(description="How many of the latest events (default 100, at most 1000)")
                         ] = None,
        authorization: Authorization = None,
    ) -> dict[str, Any]:
        authorize(request, token, authorization)
        source = source or None
        if source is not None and source not in EVENT_SOURCES:
            raise _bad_request(f"query parameter 'source' must be one of {', '.join(EVENT_SOURCES)}")
        latest = _int_param("query parameter 'limit'", limit) or 100
        opened = ledger()
        return {"counts": {status: opened.count_events(status=status, source=source) for status in EVENT_STATUSES},
                "events": [{**vars(row), "received_at": row.received_at.isoformat(),
                            "last_received_at": row.last_received_at.isoformat(),
                            "processed_at": row.processed_at.isoformat() if row.processed_at else None}
                           for row in opened.events(source=source, limit=max(1, min(latest, 1000)))]}

    return app


# The app the Airflow plugin mounts at /hamgam (plugins/hamgam_plugin.py): cheap to build, resolves
# nothing until a request comes.
app = create_app()
