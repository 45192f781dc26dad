"""Outcomes settled in batches: the thread that collects the CRM's answers adds each record's outcome, and
they reach the ledger many per transaction (``Ledger.settle``) instead of two transactions per record.

A batch is written when it holds ``size`` outcomes, when its oldest has waited ``seconds``, before a key it
already holds is added again, and when the block ends — on an error too, so every answer the CRM gave is
recorded. A kill loses only what was not yet written: those records are still queued, and the next try
finds them in the CRM (send marks, ``Ledger.mark_sent``) instead of creating them again.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from hamgam.ledger.store import Ledger, Settlement

BATCH_SIZE = 200
BATCH_SECONDS = 0.05


class OutcomeBatch:
    """Collects one company + entity's outcomes and settles them in batches (see the module)."""

    def __init__(self, ledger: Ledger, company: int, entity: str, *, size: int = BATCH_SIZE,
                 seconds: float = BATCH_SECONDS) -> None:
        self.ledger, self.company, self.entity = ledger, company, entity
        self.size, self.seconds = size, seconds
        self._items: list[Settlement] = []
        self._keys: set[str] = set()
        self._oldest = 0.0
        self._lock = threading.RLock()  # the lease check may discard from a sending thread

    def add(self, settlement: Settlement) -> None:
        with self._lock:
            if settlement.key in self._keys:
                self._flush()  # one key once per transaction: its outcomes stay in order
            if not self._items:
                self._oldest = time.monotonic()
            self._items.append(settlement)
            self._keys.add(settlement.key)
            if len(self._items) >= self.size or time.monotonic() - self._oldest >= self.seconds:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def flush_due(self) -> None:
        """Write the batch if it is full or its oldest outcome has waited long enough (a caller that waits
        for answers asks this between them, so nothing waits for the next answer to be written)."""
        with self._lock:
            if len(self._items) >= self.size or (self._items and time.monotonic() - self._oldest >= self.seconds):
                self._flush()

    def _flush(self) -> None:
        if not self._items:
            return
        items, self._items, self._keys = self._items, [], set()
        self.ledger.settle(self.company, self.entity, items)

    def __enter__(self) -> OutcomeBatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.flush()
