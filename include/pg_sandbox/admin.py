"""Admin and observability endpoints under /_sandbox/ (no auth, no faults, not counted)."""

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse

from pg_sandbox import page
from pg_sandbox.errors import bad_request

if TYPE_CHECKING:
    from pg_sandbox.app import Sandbox

MAX_FLUSH_SECONDS = 120.0


def router(sandbox: "Sandbox") -> APIRouter:
    routes = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])

    @routes.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "instance": sandbox.instance}  # the nonce: which sandbox process answers

    @routes.get("/stats")
    def stats() -> dict[str, Any]:
        return sandbox.stats()

    @routes.post("/stats/reset")
    def reset_stats() -> dict[str, Any]:
        sandbox.store.reset_counters()
        return sandbox.stats()

    @routes.get("/settings")
    def get_settings() -> dict[str, Any]:
        return sandbox.settings.runtime_view()

    @routes.post("/settings")
    async def change_settings(request: Request) -> JSONResponse:
        """Partial update of the runtime settings, e.g. `{"error_rate": 1}`."""
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of settings")
            settings = sandbox.update_settings(changes)
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            return bad_request("invalid_settings", str(exc)).response()
        return JSONResponse(settings.runtime_view())

    @routes.get("/records")
    def records(kind: str | None = None) -> list[dict[str, Any]]:
        """Live records, each with its `kind`; `?kind=product,quote` keeps only those kinds."""
        kinds = None if kind is None else [k.strip() for k in kind.split(",") if k.strip()]
        return sandbox.records(kinds)

    @routes.post("/records/{crm_id}/number")
    async def renumber(crm_id: str, request: Request) -> JSONResponse:
        """Rewrite a live document's number as the CRM's numbering template would (`{"number": "..."}`, "" to
        blank it); the record keeps that number through later saves by id. 404 when no such document."""
        try:
            body = json.loads(await request.body() or b"{}")
            number = body["number"] if isinstance(body, dict) else None
            if not isinstance(number, str):
                raise ValueError("the body must be {\"number\": \"<text>\"}")
        except (ValueError, KeyError) as exc:
            return bad_request("invalid_number", str(exc)).response()
        if not await run_in_threadpool(sandbox.renumber, crm_id, number):
            return JSONResponse({"error": "not_found", "errorMessage": f"no live document {crm_id}"}, status_code=404)
        return JSONResponse({"crmId": crm_id, "number": number})

    @routes.post("/reset")
    def reset() -> dict[str, str]:
        """Wipe every record: identities, products, quotes, invoices, returns, receipts, payments."""
        sandbox.wipe()
        return {"status": "ok"}

    @routes.post("/tokens/revoke")
    def revoke_tokens() -> dict[str, str]:
        """Forget every issued token, so the next API call gets 401 (tests re-login handling)."""
        sandbox.store.revoke_tokens()
        return {"status": "ok"}

    @routes.get("/webhooks")
    def webhooks(limit: int | None = None) -> list[dict[str, Any]]:
        """The last `limit` webhook outcomes (sent, failed, dropped), oldest first; query values masked."""
        return sandbox.webhooks.deliveries(limit)

    @routes.post("/webhooks/flush")
    def flush_webhooks(timeout: float = 10.0) -> dict[str, Any]:
        """Wait (at most `timeout` s, capped at 120) until no webhook is queued or being sent."""
        flushed = sandbox.webhooks.flush(min(max(timeout, 0.0), MAX_FLUSH_SECONDS))
        return {"flushed": flushed, "pending": sandbox.webhooks.pending()}

    @routes.post("/webhooks/clear")
    def clear_webhooks() -> dict[str, str]:
        """Forget the logged webhook outcomes (the counters stay; /_sandbox/stats/reset clears them)."""
        sandbox.webhooks.clear_log()
        return {"status": "ok"}

    @routes.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        html = await run_in_threadpool(lambda: page.render(sandbox.records(), sandbox.stats()))
        return HTMLResponse(html)

    return routes
