"""Seeded fault draws for API calls.

Every call draws the same four numbers in the same order, whatever the outcome, so a
given seed and call sequence always produce the same faults. Every webhook that is due
(a URL is set and its event is enabled) draws one more number, for the drop rate.

The bad-answer faults (an HTML page, a cut-off body, a SOAP fault after the commit) draw
five more numbers per call from a second sequence seeded from the same seed, so turning
them on never moves the faults the first sequence gives.
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
    html_page: bool = False  # answer 200 with an HTML page before doing anything
    html_after_commit: bool = False  # do the write, then answer 200 with an HTML page (writes only)
    truncated_json: bool = False  # do the work, then cut its 200 JSON answer short (REST)
    truncated_soap: bool = False  # do the work, then cut its 200 SOAP envelope short (SOAP)
    soap_fault_after_commit: bool = False  # do the write, then answer an s:Client fault (SOAP writes only)


class Faults:
    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)
            self._answers = random.Random(None if seed is None else f"pg-sandbox-answers:{seed}")

    def draw(self, settings: SandboxSettings, is_write: bool) -> FaultPlan:
        with self._lock:
            slow, limited, error, after = (self._rng.random() for _ in range(4))
            html, html_after, cut_json, cut_soap, fault_after = (self._answers.random() for _ in range(5))
        is_slow = slow < settings.slow_rate
        delay_ms = settings.latency_ms + (settings.slow_ms if is_slow else 0)
        return FaultPlan(
            delay_seconds=delay_ms / 1000,
            slow=is_slow,
            rate_limited=limited < settings.rate_limit_rate,
            error=error < settings.error_rate,
            error_after_commit=is_write and after < settings.error_after_commit_rate,
            html_page=html < settings.html_page_rate,
            html_after_commit=is_write and html_after < settings.html_after_commit_rate,
            truncated_json=cut_json < settings.truncated_json_rate,
            truncated_soap=cut_soap < settings.truncated_soap_rate,
            soap_fault_after_commit=is_write and fault_after < settings.soap_fault_after_commit_rate,
        )

    def chance(self, rate: float) -> bool:
        """One draw from the same seeded sequence: True with probability `rate`."""
        with self._lock:
            return self._rng.random() < rate
