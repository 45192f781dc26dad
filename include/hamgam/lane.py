"""A load's chunks sent back to back while the next one is prepared.

A load's chunk has two halves: preparing it (read the rows, validate them with GX, resolve references, build
the payloads: CPU) and sending it (CRM calls on the client's thread pool: waiting on the CRM). Done one after
the other, the pool idles while the next chunk is prepared, and again while the last calls of a chunk finish
before the next chunk may start (a tail of one CRM round trip per chunk).

A ``Lane`` sends each chunk from a background thread while the caller prepares the next, and starts a
chunk's calls as soon as every call of the chunk before has started, so they fill the pool's threads as the
earlier chunk's last calls free them (one pool per client: the CRM never sees more than its ``max_workers``
calls at once). ``check`` runs right before a chunk's first call (a load checks that it still holds its
lease): a try that lost its lease finishes the calls it had started and starts no others (a check that
passed within ``CHECK_EVERY`` stands: the pool's threads do not each ask the ledger before every call). At
most two chunks are outstanding. The answers are settled in the caller's thread (``settle``): those that
have arrived each time a chunk is sent, as they come while it waits for a chunk, and all of them by
``finish``. A caller that
prepares chunks in its own thread settles nothing meanwhile, so answers of two chunks could wait for it: it
asks for no overlap (``overlap=False``), one chunk at a time, as a load that prepares in its own process
does (``hamgam.preparer``: the load's thread then mostly waits, and settles as answers come).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hamgam.payamgostar.client import PayamgostarClient

Answer = tuple[Any, Any, BaseException | None]  # (item, result, error) as the client's map_concurrent yields
Settle = Callable[[Any, Any, BaseException | None], None]

OUTSTANDING = 2  # chunks: the one being sent and the one waiting to start behind it
SETTLE_EVERY = 0.02  # seconds: how often answers are settled while the caller waits for a chunk
CHECK_EVERY = 0.01  # seconds: a check that passed this recently stands (the pool's threads share it)


class InFlight:
    """One chunk's calls, made on a background thread once every call of the chunk ``before`` has started
    and ``check`` passed. ``settle_ready`` hands the answers that have arrived to ``settle``; ``join`` waits
    for the calls to end; ``raise_error`` raises what ended them early (a lost lease, an AuthError, a bug),
    if anything did."""

    def __init__(self, client: PayamgostarClient, fn: Callable[[Any], Any], items: Sequence[Any], settle: Settle,
                 *, before: InFlight | None, check: Callable[[], None], stop: threading.Event) -> None:
        self._client, self._fn, self._items, self._settle = client, fn, items, settle
        self._before, self._check, self._stop = before, check, stop
        self.all_started = threading.Event()  # every call started (or none will be)
        self.done = threading.Event()  # every call answered (or none will be)
        self._started = 0
        self._count_lock = threading.Lock()
        self._answers: deque[Answer] = deque()  # appended by the background thread, taken by the caller's
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hamgam-send", daemon=True)
        self._thread.start()

    def _call(self, item: Any) -> Any:
        with self._count_lock:
            self._started += 1
            if self._started == len(self._items):
                self.all_started.set()
        return self._fn(item)

    def _stopping(self) -> bool:
        """Before each call: stop once a check failed; while the chunk before still has calls in the CRM,
        check first (so a lost lease stops this chunk within the pool's calls, not after it)."""
        if self._stop.is_set():
            return True
        before = self._before
        if before is not None and not before.done.is_set():
            try:
                self._check()
            except BaseException:  # noqa: BLE001 - the check remembered it; the caller raises it
                return True
        return False

    def _run(self) -> None:
        try:
            if self._before is not None:
                self._before.all_started.wait()
            self._check()
            for answer in self._client.map_concurrent(self._call, self._items, stop=self._stopping):
                self._answers.append(answer)
        except BaseException as error:  # noqa: BLE001 - raised again by finish, in the caller's thread
            self._error = error
        finally:
            self._before = None  # else every chunk would hold the one before it, and a long load all of them
            self.all_started.set()
            self.done.set()

    @property
    def has_answers(self) -> bool:
        return bool(self._answers)

    def settle_ready(self) -> None:
        while self._answers:
            self._settle(*self._answers.popleft())

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the calls to end, at most ``timeout`` seconds; whether they have."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


class Lane:
    """A load's chunks in flight (see the module). ``check`` also runs each time answers are settled: once it
    fails, no call starts any more (those not started stay queued for the lease's new holder), the answers
    of the calls that had started are still settled, and the failure is raised. ``flush`` writes what is due
    of what was settled; it runs each time answers are settled while the caller waits for a chunk."""

    def __init__(self, client: PayamgostarClient, check: Callable[[], None] = lambda: None,
                 flush: Callable[[], None] = lambda: None, *, overlap: bool = True) -> None:
        self._client, self._check, self._flush = client, check, flush
        # without overlap a chunk starts only once the one before is answered and settled: for a caller that
        # prepares chunks in its own thread, during which it settles nothing (see the module)
        self._outstanding_at_most = OUTSTANDING if overlap else 1
        self._outstanding: deque[InFlight] = deque()
        self._stop = threading.Event()  # set when the check fails: calls not started are left out
        self._lost: BaseException | None = None  # what the failed check raised
        self._check_lock = threading.Lock()
        self._passed_at = float("-inf")  # time.monotonic() of the last check that passed

    def send(self, fn: Callable[[Any], Any], items: Sequence[Any], settle: Settle) -> None:
        """Call ``fn`` on every item, on the client's pool, once the chunk before has started all its calls
        (without overlap: once it is answered and settled); each (item, result, error) goes to ``settle`` in
        this thread."""
        self.settle_ready()
        while len(self._outstanding) >= self._outstanding_at_most:
            self._finish(self._outstanding.popleft())
        before = self._outstanding[-1] if self._outstanding else None
        self._outstanding.append(InFlight(self._client, fn, items, settle, before=before, check=self._checked,
                                          stop=self._stop))

    def _checked(self) -> None:
        """``check``, unless one passed within ``CHECK_EVERY``; a failure stops every call not yet started and
        is remembered. Any thread may call it."""
        with self._check_lock:
            if self._lost is None:
                if time.monotonic() - self._passed_at < CHECK_EVERY:
                    return
                try:
                    self._check()
                    self._passed_at = time.monotonic()
                    return
                except BaseException as error:
                    self._lost = error
                    self._stop.set()
            raise self._lost

    def _settle(self, chunk: InFlight) -> None:
        if not chunk.has_answers:
            return
        try:
            self._checked()
        finally:  # answers of calls that started are settled even when the check failed
            chunk.settle_ready()

    def _finish(self, chunk: InFlight) -> None:
        failed: BaseException | None = None
        while not chunk.join(timeout=SETTLE_EVERY):  # answers are settled as they come while waiting
            if failed is None:
                try:
                    self._checked()  # a lost lease stops the calls not yet started at once
                except BaseException as error:  # noqa: BLE001 - raised once the started calls are settled
                    failed = error
            if chunk.has_answers:
                chunk.settle_ready()
                self._flush()  # what is due is written now, not when the next answer comes
        chunk.settle_ready()
        if failed is not None:
            raise failed
        chunk.raise_error()

    def settle_ready(self) -> None:
        """Settle the answers that have arrived, oldest chunk first, without waiting for the others."""
        for chunk in self._outstanding:
            self._settle(chunk)

    def finish(self) -> None:
        """Wait for every outstanding chunk and settle its answers; then raise the first error one ended with."""
        first: BaseException | None = None
        while self._outstanding:
            try:
                self._finish(self._outstanding.popleft())
            except BaseException as error:  # noqa: BLE001 - the other chunks are waited for too, then raised
                first = first or error
        if first is not None:
            raise first
