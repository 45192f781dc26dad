"""Code that runs in separate processes (multiprocessing, spawn) for the ledger's concurrency tests."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from hamgam.ledger import Ledger, upgrade

_barrier: Any = None


def _init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _start_together() -> None:
    _barrier.wait(timeout=60)


def _call(fn: Callable[..., Any], args: tuple) -> Any:
    try:
        return fn(*args)
    except BaseException:
        _barrier.abort()  # the other workers stop waiting for this one
        raise


def run_parallel(fn: Callable[..., Any], calls: Sequence[tuple]) -> list[Any]:
    """Run ``fn(*args)`` for each args in its own spawned process; workers start rounds together."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(calls))
    with ProcessPoolExecutor(len(calls), mp_context=ctx, initializer=_init, initargs=(barrier,)) as pool:
        futures = [pool.submit(_call, fn, args) for args in calls]
        errors = [future.exception(timeout=300) for future in futures]
    # report the worker that failed, not the ones it left waiting at the barrier
    errors.sort(key=lambda e: e is None or isinstance(e, threading.BrokenBarrierError))
    if errors[0] is not None:
        raise errors[0]
    return [future.result() for future in futures]


def upgrade_worker(urls: list[str]) -> int:
    """Upgrade each database at the same moment as the other workers; returns how many it upgraded."""
    for url in urls:
        _start_together()
        upgrade(url)
    return len(urls)


def key_for(proc: int, i: int, keys: int) -> str:
    """Processes walk the keys at different strides, so they hit the same keys at the same time."""
    return f"k{(i * (proc + 1) + proc) % keys:03d}"


def outcome_worker(url: str, proc: int, writes: int, keys: int) -> dict[str, int]:
    """``writes`` outcomes over ``keys`` keys; returns how many writes went to each key."""
    ledger = Ledger.connect(url)
    written: Counter[str] = Counter()
    try:
        _start_together()
        for i in range(writes):
            key = key_for(proc, i, keys)
            if i % 3 == 0:
                ledger.record_outcome(1, "identities", key, status="failed", error=f"p{proc} write {i}",
                                      error_details={"proc": proc, "i": i})
            else:
                crm_id = f"crm-{key}" if i % 3 == 1 else None
                ledger.record_outcome(1, "identities", key, status="synced", crm_id=crm_id,
                                      content_hash=f"h{proc}-{i}")
            written[key] += 1
    finally:
        ledger.dispose()
    return dict(written)


def lease_worker(url: str, holder: str, rounds: int) -> list[bool]:
    """Race for the lease of a new scope each round; returns whether this holder won each round."""
    ledger = Ledger.connect(url)
    won = []
    try:
        for r in range(rounds):
            _start_together()
            won.append(ledger.acquire_lease(1, f"race-{r}", holder, ttl_seconds=600))
    finally:
        ledger.dispose()
    return won
