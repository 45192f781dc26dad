"""The path every API call takes, REST or SOAP.

Count the call under its name, draw faults, sleep, maybe answer 429 or 500 before doing
anything, do the work, and when the work committed a write: count it and maybe answer 500
after the commit. Each protocol says how its 429 and 500 look.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from pg_sandbox.faults import FaultPlan

if TYPE_CHECKING:
    from pg_sandbox.app import Sandbox


@dataclass(frozen=True)
class Outcome:
    response: Response
    wrote: bool  # a write was committed


class Failures(Protocol):
    def rate_limited(self, retry_after: str) -> Response: ...

    def server_error(self) -> Response: ...


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
    else:
        outcome = work()
        response = outcome.response
        if outcome.wrote:
            store.bump("writes", "total")
            if plan.error_after_commit:
                store.bump("faults", "error_after_commit")
                response = failures.server_error()
    store.bump("status", str(response.status_code))
    return response
