"""One chunk's CRM calls in flight while the load prepares the next one.

A load's chunk has two halves: preparing it (read the rows, validate them with GX, resolve references, build
the payloads: CPU on this machine) and sending it (CRM calls on the client's thread pool: waiting on the
CRM). Done one after the other, the pool idles while the next chunk is prepared. A ``Lane`` keeps one
chunk's calls running on a background thread while the caller prepares the next; ``send`` waits for the
chunk before it (and hands its answers to the caller's ``settle``, in the caller's thread) before it starts
the next, so the CRM never sees more than the pool's own number of calls at once from the lane.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

Answer = tuple[Any, Any, BaseException | None]  # (item, result, error) as the client's map_concurrent yields


class InFlight:
    """``calls()``'s answers, gathered on a background thread; ``finish`` waits for them all, hands each to
    ``settle`` and then raises what ended the calls early (an AuthError, a bug), if anything did."""

    def __init__(self, calls: Callable[[], Iterable[Answer]], settle: Callable[[Any, Any, BaseException | None], None]
                 ) -> None:
        self._calls, self._settle = calls, settle
        self._answers: list[Answer] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hamgam-send", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for answer in self._calls():
                self._answers.append(answer)
        except BaseException as error:  # noqa: BLE001 - raised again by finish, in the caller's thread
            self._error = error

    def finish(self) -> None:
        self._thread.join()
        for item, result, error in self._answers:
            self._settle(item, result, error)
        if self._error is not None:
            raise self._error


class Lane:
    """At most one ``InFlight`` at a time (see the module). ``check`` runs before each chunk is sent (a
    load checks that it still holds its lease)."""

    def __init__(self, check: Callable[[], None] = lambda: None) -> None:
        self._check = check
        self._current: InFlight | None = None

    def send(self, calls: Callable[[], Iterable[Answer]],
             settle: Callable[[Any, Any, BaseException | None], None]) -> None:
        self.finish()
        self._check()
        self._current = InFlight(calls, settle)

    def finish(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.finish()
