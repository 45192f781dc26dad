"""Event-driven runs: a cheap probe per company and entity in Airflow's triggerer.

Each forward DAG is scheduled on the asset ``hamgam://tadbir/<entity>`` (or the safety-net cron,
``sync.schedule``). The asset has one watcher per company: a :class:`TadbirChangeTrigger`, which the
triggerer runs as a coroutine. Every ``sync.probe_interval_seconds`` it reads the entity's probe token
(``hamgam.tadbir.changes.probe_token``: one cheap read whose value changes when any row of the
entity's scope changes) and, when the token differs from the last one, yields a ``TriggerEvent``:
Airflow records an asset event, and the scheduler starts the entity's DAG at once. While a run is busy,
more events only keep the DAG's queued-event row (``max_active_runs=1``), so any number of saves during
a run makes exactly one next run, which detects all of them.

The trigger never ends and never raises: a probe that cannot connect, fails or takes longer than
``sync.probe_timeout_seconds`` is logged once when the state changes (ok → failing, one failure →
another, failing → ok) and polling goes on. Blocking database calls run on a small thread pool of
their own, one call per trigger at a time, so a hung Tadbir can neither block the triggerer's event
loop nor starve other triggers of threads.

The last token is kept in Airflow's asset state store (per company), so a triggerer restart compares
against what was seen before it: a change made while no triggerer ran starts a run as soon as one
runs again. A watcher that has never seen a token fires once on its first probe (the DAG then syncs
what changed while nobody watched, if anything).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)

PROBE = "hamgam.tadbir.changes.probe_token"  # probe_token(engine, spec, ctx) -> str
ASSET_URI = "hamgam://tadbir/{entity}"
TOKEN_KEY = "probe_token:{company}"  # in the asset state store of the entity's asset
PROBE_THREADS = 16  # all probes of a triggerer process share them; a stuck call holds one, never more per trigger
MAX_DUTY = 0.1  # a watcher's probes take at most this share of the time: a slow probe is asked less often
RECENT = 5  # probes whose fastest sets the pace

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_engines: dict[tuple[str, float], Any] = {}


def asset_uri(entity: str) -> str:
    return ASSET_URI.format(entity=entity)


def _probe_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="hamgam-probe")
        return _pool


def probe_engine(conn_id: str, timeout: float):
    """The probes' engine for a Tadbir connection, one per process: a small pool, connect and statement
    time-outs where the driver has them (a dead server fails a probe instead of hanging it)."""
    import sqlalchemy as sa

    from hamgam.connections import sqlalchemy_url

    url = sqlalchemy_url(conn_id)
    key = (url, timeout)
    with _pool_lock:
        engine = _engines.get(key)
    if engine is not None:
        return engine
    backend = sa.make_url(url).get_backend_name()
    # the server gives up a little before the trigger does, so a lock or a slow query fails with its own
    # message (which the log names) rather than a bare time-out
    server = 0.8 * timeout
    seconds = max(1, round(server))
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args = {"timeout": server}  # how long a read waits for a writer's lock
    elif backend == "postgresql":
        connect_args = {"connect_timeout": seconds, "options": f"-c statement_timeout={int(server * 1000)}"}
    elif backend == "mssql":
        connect_args = {"login_timeout": seconds, "timeout": seconds}  # pymssql
    # no pre-ping (it would double the statements): a connection the server dropped fails one probe, is
    # invalidated by SQLAlchemy, and read_token asks once more on a fresh one
    engine = sa.create_engine(url, pool_size=2, max_overflow=6, pool_timeout=timeout, connect_args=connect_args)
    with _pool_lock:
        return _engines.setdefault(key, engine)


def _import(dotted: str) -> Callable[..., Any]:
    import importlib

    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _error_text(exc: BaseException) -> str:
    text = str(exc).split("\n[SQL:", 1)[0].strip().replace("\n", " ") or repr(exc)
    return f"{type(exc).__name__}: {text}"[:500]


class ProbeTimeout(TimeoutError):
    pass


class _Health:
    """The probe's state, logged only when it changes: ok, or failing with one kind of error."""

    def __init__(self, label: str, logger: logging.Logger) -> None:
        self.label = label
        self.log = logger
        self.state = "starting"
        self.failures = 0
        self.failing_since: float | None = None

    def ok(self) -> None:
        if self.state == "ok":
            return
        if self.state != "starting":
            self.log.info("probe of %s answers again after %d failed probes over %.0f s", self.label,
                          self.failures, time.monotonic() - (self.failing_since or time.monotonic()))
        else:
            self.log.info("probe of %s is watching", self.label)
        self.state, self.failures, self.failing_since = "ok", 0, None

    def failed(self, exc: BaseException, interval: float) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        state = "timeout" if isinstance(exc, ProbeTimeout) else f"error:{type(exc).__name__}"
        if state != self.state:
            self.log.warning("probe of %s failed (%s); polling on every %g s, logged again only when this "
                             "changes", self.label, _error_text(exc), interval)
        self.state = state


class TadbirChangeTrigger(BaseEventTrigger):
    """Fires whenever the probe token of ``entity`` in ``company``'s Tadbir changes (see the module).

    ``probe``: the dotted path of ``probe(engine, spec, ctx) -> str``; ``interval`` and ``timeout`` in
    seconds. The kwargs identify the trigger (Airflow hashes them), so they hold settings, never state.
    """

    def __init__(self, *, entity: str, company: int, interval: float = 1.0, timeout: float = 10.0,
                 probe: str = PROBE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entity = entity
        self.company = int(company)
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.probe = probe
        self._inflight: asyncio.Future | None = None
        self._resolved: tuple[Callable[..., Any], Any, Any, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"entity": self.entity, "company": self.company, "interval": self.interval,
                 "timeout": self.timeout, "probe": self.probe})

    @property
    def label(self) -> str:
        return f"{self.entity} of company {self.company}"

    # -- the blocking part, on the probe threads ----------------------------------------------------

    def _resolve(self) -> tuple[Callable[..., Any], Any, Any, Any]:
        """The probe function, the engine, the spec and the context (kept once they resolve)."""
        if self._resolved is None:
            from hamgam.config import load_config
            from hamgam.entities import SPECS
            from hamgam.entities.base import SyncContext

            config = load_config()
            company = config.company(self.company)
            probe = _import(self.probe)
            engine = probe_engine(company.tadbir_conn_id, self.timeout)
            # the spec as this company names its source (a site's own name of an assumed table)
            self._resolved = (probe, engine, SPECS[self.entity].for_company(company), SyncContext(config, company))
        return self._resolved

    def read_token(self) -> str:
        """One probe (blocking): the entity's token in the company's Tadbir. A pooled connection the server
        had dropped (a restart) is replaced once, silently."""
        import sqlalchemy as sa

        probe, engine, spec, ctx = self._resolve()
        try:
            return str(probe(engine, spec, ctx))
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return str(probe(engine, spec, ctx))

    # -- the async loop -----------------------------------------------------------------------------

    async def probe_once(self) -> str:
        """The token, read on the probe threads; ProbeTimeout after ``timeout`` s. A call that is still
        running (a hung server) is awaited again instead of starting another one."""
        if self._inflight is None or self._inflight.done():
            loop = asyncio.get_running_loop()
            call = contextvars.copy_context().run
            self._inflight = loop.run_in_executor(_probe_pool(), call, self.read_token)
        inflight = self._inflight
        try:
            return await asyncio.wait_for(asyncio.shield(inflight), self.timeout)
        except TimeoutError:
            raise ProbeTimeout(f"no answer within {self.timeout:g} s") from None
        finally:
            if inflight.done() and not inflight.cancelled():
                inflight.exception()  # retrieved: no "exception was never retrieved" noise

    async def _stored_token(self) -> str | None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return None
        try:
            value = await store.aget(TOKEN_KEY.format(company=self.company))
        except Exception as exc:  # the store is a convenience: without it the watcher still works
            log.warning("probe of %s: cannot read the last token from the asset state store (%s)",
                             self.label, _error_text(exc))
            return None
        return None if value is None else str(value)

    async def _store_token(self, token: str) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(TOKEN_KEY.format(company=self.company), token)
        except Exception as exc:
            log.warning("probe of %s: cannot keep the last token in the asset state store (%s)",
                             self.label, _error_text(exc))

    def pause(self, took: float) -> float:
        """Seconds to wait after a probe: the rest of the interval, or longer when probes are slow, so that one
        watcher's probes never keep Tadbir busy more than ``MAX_DUTY`` of the time. ``took``: the fastest of the
        last few probes (a slow table slows them all; a busy moment of this machine only some)."""
        return max(0.0, self.interval - took, took * (1 / MAX_DUTY - 1))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        health = _Health(self.label, log)
        last = await self._stored_token()
        slow = False
        recent: deque[float] = deque(maxlen=RECENT)
        # the watchers of a triggerer start together: spread them over the interval, so their probes do not
        # all hit Tadbir (and this process) at the same moment
        await asyncio.sleep(random.uniform(0, self.interval))
        while True:
            started = time.monotonic()
            try:
                token = await self.probe_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never ends the trigger: logged once per state change, polled again
                ended = time.monotonic()
                pause = max(0.0, self.interval - (ended - started))
                health.failed(exc, self.interval)
            else:
                ended = time.monotonic()
                recent.append(ended - started)
                took = min(recent)
                pause = self.pause(took)
                health.ok()
                if (took + pause > 1.5 * self.interval) != slow:
                    slow = not slow
                    log.info("probe of %s takes %.2f s: polling every %.1f s %s", self.label, took, took + pause,
                             f"instead of {self.interval:g} s, to keep Tadbir free" if slow else "again")
                digest = hashlib.sha256(token.encode()).hexdigest()[:16]
                if digest != last:
                    yield TriggerEvent({"entity": self.entity, "company": self.company, "digest": digest,
                                        "first": last is None, "at": datetime.now(UTC).isoformat()})
                    last = digest
                    await self._store_token(digest)
            await asyncio.sleep(max(0.0, pause - (time.monotonic() - ended)))

    async def cleanup(self) -> None:
        self._inflight = None
