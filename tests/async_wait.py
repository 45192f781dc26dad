"""Waiting for a condition inside an event loop: poll it, never a fixed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

WAIT = 60.0  # generous: a condition that holds arrives long before, even on a loaded machine


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait for ``condition()``, failing the test after ``timeout`` seconds."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
