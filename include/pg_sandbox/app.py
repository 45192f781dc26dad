"""The sandbox web application: Payamgostar REST v2 (identities, sales and purchase invoices, sales quotes),
SOAP 1.1 (IProduct, IInvoice, IPayment), outgoing webhooks (webhooks.py) and the /_sandbox admin.

Every API call goes through calls.run_call: count it, draw faults, sleep, maybe answer
429/500 or an HTML page before doing anything, do the work, for committed writes maybe answer
500 or an HTML page after the commit, and maybe cut a 200 JSON answer short. A REST call's work: check the bearer token, parse the body, run the verb.
"""

import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from pg_sandbox import admin, models, soap
from pg_sandbox.auth import TokenService
from pg_sandbox.calls import Outcome, run_call
from pg_sandbox.casing import camel_keys
from pg_sandbox.dates import now_utc
from pg_sandbox.document_store import DocumentStore
from pg_sandbox.documents import stamp
from pg_sandbox.errors import ApiError, bad_request
from pg_sandbox.faults import FaultPlan, Faults
from pg_sandbox.identities import KINDS, Identities
from pg_sandbox.invoices import Invoices
from pg_sandbox.payments import Payments
from pg_sandbox.products import Products
from pg_sandbox.references import References
from pg_sandbox.sales_rest import REST_KINDS, InvoiceApi
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.store import Store
from pg_sandbox.webhooks import Webhooks

VERBS = ("create", "get", "update", "delete", "find")
WRITE_VERBS = ("create", "update", "delete")
WEBHOOK_EVENT = {"create": "Insert", "update": "Update", "delete": "Delete"}
INSTANCE_ENV = "PG_SANDBOX_INSTANCE"  # the instance nonce /_sandbox/health answers with (default: a random one)


class Sandbox:
    """The state shared by all routes: settings (changeable at runtime), stores and services."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store(settings.db_path)
        self.docs = DocumentStore(self.store)
        self.tokens = TokenService(self.store)
        self.identities = Identities(self.store)
        refs = References(self.store, self.docs)
        self.products = Products(self.docs, lambda: self.settings)
        self.invoices = Invoices(self.docs, refs, lambda: self.settings)
        self.payments = Payments(self.docs, refs, lambda: self.settings)
        # REST path prefix (invoice/sales, invoice/purchase) -> the verbs of that invoice kind
        self.invoice_apis = {prefix: InvoiceApi(self.invoices, self.store, lambda: self.settings, kind)
                             for prefix, kind in REST_KINDS.items()}
        self.sales = self.invoice_apis["invoice/sales"]
        self.faults = Faults(settings.seed)
        self.webhooks = Webhooks(lambda: self.settings, self.faults, self.store)
        self._lock = threading.Lock()
        # answered by /_sandbox/health: whoever started this process (pg_sandbox.testing.run_sandbox) passes
        # a random nonce and checks it, so another server on the same port is never taken for this one
        self.instance = os.environ.get(INSTANCE_ENV) or secrets.token_hex(16)

    def update_settings(self, changes: dict[str, Any]) -> SandboxSettings:
        with self._lock:
            self.settings = self.settings.with_changes(changes)
            if "seed" in changes:
                self.faults.reseed(self.settings.seed)
            return self.settings

    def login(self, body: Any) -> dict[str, str]:
        settings = self.settings
        return self.tokens.login(models.bind(models.LOGIN, body), settings.username, settings.password,
                                 settings.token_ttl_seconds)

    def records(self, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Live records with their kind: identities first, then products, invoices, payments."""
        wanted = None if kinds is None else set(kinds)
        identities = [r for r in self.identities.records() if wanted is None or r["kind"] in wanted]
        return identities + [{"kind": kind, **doc} for kind, doc in self.docs.find(wanted)]

    def renumber(self, crm_id: str, number: str) -> bool:
        """The CRM's numbering template rewrites (or blanks) a document's number (testing hook)."""
        return self.docs.renumber(crm_id.lower(), number, stamp(now_utc))

    def wipe(self) -> None:
        with self.store.atomic():
            self.store.wipe_records()
            self.docs.wipe()

    def stats(self) -> dict[str, Any]:
        counters = self.store.counters()
        return {
            "calls": counters.get("calls", {}),
            "writes": counters.get("writes", {}).get("total", 0),
            "faults": counters.get("faults", {}),
            "statuses": counters.get("status", {}),
            "webhooks": self.webhooks.stats(counters.get("webhooks", {})),
        }

    def identity_action(self, kind: str, verb: str) -> Callable[[Any], Any]:
        """The route action of `<kind>/<verb>`; a write queues its webhook once it has committed."""
        action = getattr(self.identities, verb)
        if verb not in WRITE_VERBS:
            return lambda body: action(kind, body)

        def write(body: Any) -> Any:
            result = action(kind, body)  # committed when it returns
            # delete answers nothing: its id is the one it was given (and found)
            crm_id = result["crmId"] if result else models.bind(models.DELETE, body)["id"]
            self.webhooks.notify(kind, WEBHOOK_EVENT[verb], crm_id)
            return result

        return write


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    sandbox = Sandbox(settings or SandboxSettings.from_env())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        sandbox.webhooks.stop()
        sandbox.store.close()

    app = FastAPI(title="Payamgostar sandbox (hamgam)", lifespan=lifespan)
    app.state.sandbox = sandbox

    _add_api_route(app, sandbox, "auth/login", sandbox.login, auth=False)
    for kind in KINDS:
        for verb in VERBS:
            _add_api_route(app, sandbox, f"{kind}/{verb}", sandbox.identity_action(kind, verb),
                           write=verb in WRITE_VERBS)
    _add_api_route(app, sandbox, "identity/search", sandbox.identities.search)
    for prefix, invoice_api in sandbox.invoice_apis.items():
        for verb in VERBS:
            _add_api_route(app, sandbox, f"{prefix}/{verb}", getattr(invoice_api, verb), write=verb in WRITE_VERBS)
    _add_api_route(app, sandbox, "quote/sales/get", sandbox.sales.quote_get)
    app.include_router(soap.router(sandbox))
    app.include_router(admin.router(sandbox))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        # unknown paths and wrong methods answer in the same error shape as the API
        return ApiError(exc.status_code, "not_found" if exc.status_code == 404 else "http_error",
                        str(exc.detail)).response()

    return app


class RestFailures:
    truncated_fault = "truncated_json"

    @staticmethod
    def fault_after_commit(plan: FaultPlan) -> None:
        return None  # REST has no fault of its own after a commit (500 and the HTML page are shared)

    @staticmethod
    def rate_limited(retry_after: str) -> Response:
        return ApiError(429, "too_many_requests", "Too many requests; retry later.",
                        f"Rate limit exceeded. Retry after {retry_after} s.",
                        headers={"Retry-After": retry_after}).response()

    @staticmethod
    def server_error() -> Response:
        return ApiError(500, "server_error", "An error has occurred.", "Injected fault (pg_sandbox).").response()


def _add_api_route(app: FastAPI, sandbox: Sandbox, name: str, action: Callable[[Any], Any], *,
                   write: bool = False, auth: bool = True) -> None:
    path = "/api/v2/auth/login" if name == "auth/login" else f"/api/v2/crmobject/{name}"

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        authorization = request.headers.get("authorization")
        return await run_call(sandbox, name, write, RestFailures,
                              lambda: _rest_work(sandbox, action, write, auth, authorization, raw))

    endpoint.__name__ = name.replace("/", "_")
    app.add_api_route(path, endpoint, methods=["POST"], name=name)


def _rest_work(sandbox: Sandbox, action: Callable[[Any], Any], write: bool, auth: bool,
               authorization: str | None, raw: bytes) -> Outcome:
    try:
        if auth:
            sandbox.tokens.check(authorization)
        result = action(parse_body(raw))
    except ApiError as exc:
        return Outcome(exc.response(), False)
    # delete answers 200 with an empty body
    return Outcome(Response(status_code=200) if result is None else JSONResponse(result), write)


def parse_body(raw: bytes) -> Any:
    """The request JSON with keys normalised to camelCase; 400 when it is not JSON."""
    if not raw.strip():
        raise bad_request("invalid_json", "A non-empty request body is required.")
    try:
        return camel_keys(json.loads(raw, parse_constant=_reject_constant))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("invalid_json", "The request body is not valid JSON.", str(exc)) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not valid JSON")  # Python accepts NaN/Infinity, .NET does not
