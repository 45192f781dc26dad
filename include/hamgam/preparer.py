"""A big load's chunks read, prepared and validated in a second process, while this one sends.

A load's process holds one GIL for two kinds of work: preparing chunks (read from Tadbir, prepare, validate
with GX: ~1 ms of CPU per sales invoice) and sending them (the client's threads: JSON, HTTP, ~1 ms a call).
On its own it cannot use a second core, so at a fast CRM the preparation, not the CRM, sets the pace. A
``Preparer`` forks one child process for a load of at least ``sync.prepare_process_from`` queued records; the
child runs ``pipeline.prepare_chunk`` for the next chunk while the parent sends the current one (the first
chunk is prepared in the parent, ``submit(here=True)``, while the child prepares the second, so the CRM's
first calls do not wait for the child). It has no side effects (it reads Tadbir and computes), so a child
that dies costs nothing but time: its chunk is prepared again in this process, and so is the rest of the
load. A smaller load, a process that may not fork (a daemonic worker), or ``prepare_process_from: null``
prepares in this process as before, one chunk at a time when it is needed.

The child is forked, not spawned: it starts at once with what this process has imported and the load's
context (GX is imported and the entity's suite built before the fork, ``validate.warm``, so that the two
processes do not each pay for it); the Tadbir engine's pooled connections are left to the parent
(``dispose(close=False)``) and the child opens its own. Its log records are handed to the parent's loggers
through a queue, so task logs stay whole.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from hamgam.entities.base import EntitySpec, SyncContext
    from hamgam.pipeline import PreparedChunk

log = logging.getLogger(__name__)

Prepare = Callable[[list], "PreparedChunk"]


class PrepareFailed(RuntimeError):
    """The preparing process raised an error that cannot cross to this process as itself."""


class Preparer:
    """``submit(pending)`` returns a handle; calling it returns that chunk's ``PreparedChunk`` (see the module).
    Use as a context manager: the child stops with the block."""

    def __init__(self, spec: EntitySpec, ctx: SyncContext, engine: sa.Engine, *, queued: int) -> None:
        from hamgam.pipeline import prepare_chunk

        self._prepare: Prepare = partial(prepare_chunk, spec, ctx, engine)
        self._label = f"{spec.name} company {ctx.company.code}"
        self._pool: ProcessPoolExecutor | None = None
        self._listener: logging.handlers.QueueListener | None = None
        threshold = ctx.config.sync.prepare_process_from
        if threshold is not None and queued >= threshold:
            self._start(spec, engine)

    @property
    def in_child(self) -> bool:
        return self._pool is not None

    def _start(self, spec: EntitySpec, engine: sa.Engine) -> None:
        from hamgam.validate import warm

        warm({spec.name: spec.checks})  # GX imported and the suite built once, here: the child inherits them
        context = multiprocessing.get_context("fork")
        records: Any = context.Queue()
        try:
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_child_started,
                                             initargs=(self._prepare, engine, records))
            self._pool.submit(int).result()  # started, or the error of a process that may not have children
        except Exception as error:  # noqa: BLE001 - preparing in this process is always possible
            log.warning("%s: chunks are prepared in this process (a second process could not start: %s)",
                        self._label, error)
            self._stop()
            return
        self._listener = logging.handlers.QueueListener(records, _ToLoggers())
        self._listener.start()
        log.info("%s: chunks are read, prepared and validated in a second process while this one sends",
                 self._label)

    def submit(self, pending: list, *, here: bool = False) -> Callable[[], PreparedChunk]:
        """``here``: prepared in this process when the handle is called (a load's first chunk: the child is
        given the second one meanwhile, and the CRM's first calls start sooner)."""
        if self._pool is None or here:
            return partial(self._prepare, pending)
        try:
            future = self._pool.submit(_prepare_in_child, pending)
        except (BrokenProcessPool, RuntimeError) as error:
            return self._fall_back(pending, error)
        return partial(self._result, future, pending)

    def _result(self, future: Future[PreparedChunk], pending: list) -> PreparedChunk:
        try:
            return future.result()
        except BrokenProcessPool as error:
            return self._fall_back(pending, error)()

    def _fall_back(self, pending: list, error: BaseException) -> Callable[[], PreparedChunk]:
        if self._pool is not None:
            log.warning("%s: the preparing process stopped (%s); the rest of the load is prepared in this "
                        "process", self._label, error or type(error).__name__)
            self._stop()
        return partial(self._prepare, pending)

    def _stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop()


class _ToLoggers(logging.Handler):
    """Hands a record logged in the child to the parent's logger of the same name."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


_job: Prepare | None = None  # the child's prepare (set when it starts; forked, never pickled)


def _child_started(prepare: Prepare, engine: sa.Engine, records: Any) -> None:
    global _job
    _job = prepare
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    handler = logging.handlers.QueueHandler(records)
    for logger in [logging.getLogger(), *(item for item in logging.root.manager.loggerDict.values()
                                          if isinstance(item, logging.Logger))]:
        logger.handlers = []
    logging.getLogger().addHandler(handler)


def _prepare_in_child(pending: list) -> PreparedChunk:
    assert _job is not None
    try:
        return _job(pending)
    except Exception as error:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - it would arrive as a pickling error that names nothing
            raise PrepareFailed(f"{type(error).__name__}: {error}") from None
        raise
