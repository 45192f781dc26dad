"""Seeded fault draws for API calls.

Every call draws the same four numbers in the same order, whatever the outcome, so a
given seed and call sequence always produce the same faults. Every webhook that is due
(a URL is set and its event is enabled) draws one more number, for the drop rate.
"""

import random
import threading
from dataclasses import dataclass

from pg_sandbox.settings import SandboxSettings


@dataclass(frozen=True)
class FaultPlan:
    delay_seconds: float  # latency plus, when slow, the slow delay
    slow: bool
    rate_limited: bool  # answer 429 before doing anything
    error: bool  # answer 500 before doing anything
    error_after_commit: bool  # do the write, then answer 500 (writes only)


class Faults:
    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def draw(self, settings: SandboxSettings, is_write: bool) -> FaultPlan:
        with self._lock:
            slow, limited, error, after = (self._rng.random() for _ in range(4))
        is_slow = slow < settings.slow_rate
        delay_ms = settings.latency_ms + (settings.slow_ms if is_slow else 0)
        return FaultPlan(
            delay_seconds=delay_ms / 1000,
            slow=is_slow,
            rate_limited=limited < settings.rate_limit_rate,
            error=error < settings.error_rate,
            error_after_commit=is_write and after < settings.error_after_commit_rate,
        )

    def chance(self, rate: float) -> bool:
        """One draw from the same seeded sequence: True with probability `rate`."""
        with self._lock:
            return self._rng.random() < rate
