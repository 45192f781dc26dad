"""The path every API call takes, REST or SOAP.

Count the call under its name, draw faults, sleep, maybe answer 429, 500 or an HTML page
before doing anything, do the work, and when the work committed a write: count it and maybe
answer 500, an HTML page or (SOAP) a Client fault after the commit. A 200 answer of the work
itself may then be cut short (a truncated JSON body or SOAP envelope). Each protocol says how
its 429, 500, cut-off answer and fault after commit look; the HTML page is the same for both
(it comes from in front of the application: a proxy, IIS, a maintenance page).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from pg_sandbox.faults import FaultPlan

if TYPE_CHECKING:
    from pg_sandbox.app import Sandbox

HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Service Unavailable</title></head>
<body><h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your request. Please try again later.</p>
<p>Injected fault (pg_sandbox).</p></body></html>
"""


@dataclass(frozen=True)
class Outcome:
    response: Response
    wrote: bool  # a write was committed


class Failures(Protocol):
    truncated_fault: str  # the FaultPlan flag (and stats counter) of a cut-off answer of this protocol

    def rate_limited(self, retry_after: str) -> Response: ...

    def server_error(self) -> Response: ...

    def fault_after_commit(self, plan: FaultPlan) -> tuple[str, Response] | None:
        """(counter, answer) of this protocol's own fault after a committed write, when the plan has one."""
        ...


def html_page() -> Response:
    return HTMLResponse(HTML_PAGE, status_code=200)


def truncated(response: Response) -> Response:
    """The same 200 answer, cut to two thirds of its body (never whole, never empty)."""
    body = bytes(response.body)
    cut = body[:max(1, len(body) * 2 // 3)]
    return Response(cut, status_code=response.status_code, media_type=response.media_type,
                    headers={k: v for k, v in response.headers.items()
                             if k.lower() not in ("content-length", "content-type")})


async def run_call(sandbox: "Sandbox", name: str, write: bool, failures: Failures,
                   work: Callable[[], Outcome]) -> Response:
    plan = sandbox.faults.draw(sandbox.settings, write)
    if plan.delay_seconds:
        await asyncio.sleep(plan.delay_seconds)
    # the store is synchronous (sqlite3): keep it off the event loop
    return await run_in_threadpool(_process, sandbox, name, failures, plan, work)


def _process(sandbox: "Sandbox", name: str, failures: Failures, plan: FaultPlan,
             work: Callable[[], Outcome]) -> Response:
    store = sandbox.store
    store.bump("calls", name)
    if plan.slow:
        store.bump("faults", "slow")
    if plan.rate_limited:
        store.bump("faults", "rate_limited")
        response = failures.rate_limited(str(sandbox.settings.retry_after_seconds))
    elif plan.error:
        store.bump("faults", "error")
        response = failures.server_error()
    elif plan.html_page:
        store.bump("faults", "html_page")
        response = html_page()
    else:
        response = _work(store, failures, plan, work)
    store.bump("status", str(response.status_code))
    return response


def _work(store, failures: Failures, plan: FaultPlan, work: Callable[[], Outcome]) -> Response:
    outcome = work()
    response = outcome.response
    if outcome.wrote:
        store.bump("writes", "total")
        if plan.error_after_commit:
            store.bump("faults", "error_after_commit")
            return failures.server_error()
        if plan.html_after_commit:
            store.bump("faults", "html_after_commit")
            return html_page()
        own = failures.fault_after_commit(plan)
        if own is not None:
            store.bump("faults", own[0])
            return own[1]
    if getattr(plan, failures.truncated_fault) and response.status_code == 200 and response.body:
        store.bump("faults", failures.truncated_fault)
        return truncated(response)
    return response
