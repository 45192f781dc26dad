"""The sandbox web application: Payamgostar REST v2 identity endpoints plus /_sandbox admin.

Every API call goes through `_api_call`: count it, draw faults, sleep, maybe answer
429/500 before doing anything, check the bearer token, parse the body, run the verb,
and for writes maybe answer 500 after the write was committed.
"""

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from pg_sandbox import admin, models
from pg_sandbox.auth import TokenService
from pg_sandbox.casing import camel_keys
from pg_sandbox.errors import ApiError, bad_request
from pg_sandbox.faults import FaultPlan, Faults
from pg_sandbox.identities import KINDS, Identities
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.store import Store

VERBS = ("create", "get", "update", "delete", "find")
WRITE_VERBS = ("create", "update", "delete")


class Sandbox:
    """The state shared by all routes: settings (changeable at runtime), store and services."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store(settings.db_path)
        self.tokens = TokenService(self.store)
        self.identities = Identities(self.store)
        self.faults = Faults(settings.seed)
        self._lock = threading.Lock()

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

    def stats(self) -> dict[str, Any]:
        counters = self.store.counters()
        return {
            "calls": counters.get("calls", {}),
            "writes": counters.get("writes", {}).get("total", 0),
            "faults": counters.get("faults", {}),
            "statuses": counters.get("status", {}),
        }


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    sandbox = Sandbox(settings or SandboxSettings.from_env())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        sandbox.store.close()

    app = FastAPI(title="Payamgostar sandbox (hamgam)", lifespan=lifespan)
    app.state.sandbox = sandbox

    _add_api_route(app, sandbox, "auth/login", sandbox.login, auth=False)
    for kind in KINDS:
        for verb in VERBS:
            action = getattr(sandbox.identities, verb)
            _add_api_route(app, sandbox, f"{kind}/{verb}", lambda body, a=action, k=kind: a(k, body),
                           write=verb in WRITE_VERBS)
    _add_api_route(app, sandbox, "identity/search", sandbox.identities.search)
    app.include_router(admin.router(sandbox))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        # unknown paths and wrong methods answer in the same error shape as the API
        return ApiError(exc.status_code, "not_found" if exc.status_code == 404 else "http_error",
                        str(exc.detail)).response()

    return app


def _add_api_route(app: FastAPI, sandbox: Sandbox, name: str, action: Callable[[Any], Any], *,
                   write: bool = False, auth: bool = True) -> None:
    path = "/api/v2/auth/login" if name == "auth/login" else f"/api/v2/crmobject/{name}"

    async def endpoint(request: Request) -> Response:
        return await _api_call(sandbox, request, name, action, write, auth)

    endpoint.__name__ = name.replace("/", "_")
    app.add_api_route(path, endpoint, methods=["POST"], name=name)


async def _api_call(sandbox: Sandbox, request: Request, name: str, action: Callable[[Any], Any],
                    write: bool, auth: bool) -> Response:
    raw = await request.body()
    plan = sandbox.faults.draw(sandbox.settings, write)
    if plan.delay_seconds:
        await asyncio.sleep(plan.delay_seconds)
    # the store is synchronous (sqlite3): keep it off the event loop
    return await run_in_threadpool(_process, sandbox, name, action, write, auth, plan,
                                   request.headers.get("authorization"), raw)


def _process(sandbox: Sandbox, name: str, action: Callable[[Any], Any], write: bool, auth: bool,
             plan: FaultPlan, authorization: str | None, raw: bytes) -> Response:
    store = sandbox.store
    store.bump("calls", name)
    if plan.slow:
        store.bump("faults", "slow")
    response = _faulted_before(sandbox, plan)
    if response is None:
        try:
            if auth:
                sandbox.tokens.check(authorization)
            result = action(parse_body(raw))
        except ApiError as exc:
            response = exc.response()
        else:
            if write:
                store.bump("writes", "total")
            if plan.error_after_commit:
                store.bump("faults", "error_after_commit")
                response = _server_error()
            else:
                # delete answers 200 with an empty body
                response = Response(status_code=200) if result is None else JSONResponse(result)
    store.bump("status", str(response.status_code))
    return response


def _faulted_before(sandbox: Sandbox, plan: FaultPlan) -> Response | None:
    if plan.rate_limited:
        sandbox.store.bump("faults", "rate_limited")
        retry_after = str(sandbox.settings.retry_after_seconds)
        return ApiError(429, "too_many_requests", "Too many requests; retry later.",
                        f"Rate limit exceeded. Retry after {retry_after} s.",
                        headers={"Retry-After": retry_after}).response()
    if plan.error:
        sandbox.store.bump("faults", "error")
        return _server_error()
    return None


def _server_error() -> Response:
    return ApiError(500, "server_error", "An error has occurred.", "Injected fault (pg_sandbox).").response()


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
