"""Tadbir read sessions that never block Tadbir's users for long.

Every connection hamgam opens to Tadbir waits at most ``sync.read_lock_timeout_ms`` for a lock:

* SQL Server: ``SET LOCK_TIMEOUT <ms>`` on the session (0: never wait); reads may also run under ``SNAPSHOT``
  isolation (``snapshot_reads``), which takes no shared locks at all — only where the database has
  ``ALLOW_SNAPSHOT_ISOLATION ON`` (off by default: a per-site assumption the settings state);
* PostgreSQL: ``SET lock_timeout`` (readers there never wait for writers; this covers DDL locks);
* SQLite: ``PRAGMA busy_timeout``.

On SQL Server a session also reads date literals as year-month-day (``SET DATEFORMAT ymd``), and the engine
sends date and datetime parameters in formats no DATEFORMAT misreads (``hamgam.tadbir.mssql_params``).

A read that runs out of time raises :class:`TadbirBusy` naming the table: retriable (the task fails, Airflow
tries again), never a hang behind a finance user's open transaction.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hamgam.tadbir import mssql_params

MSSQL_LOCK_TIMEOUT = 1222  # "Lock request time out period exceeded."
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_QUERY_CANCELED = "57014"  # statement_timeout, if a site sets one


class TadbirBusy(RuntimeError):
    """A Tadbir read gave up waiting for a lock (another session holds it). Retriable: try again later."""

    retriable = True

    def __init__(self, table: str, detail: str = "") -> None:
        self.table, self.detail = table, detail
        super().__init__(f"Tadbir table {table} is locked by another session; the read gave up waiting "
                         f"(sync.read_lock_timeout_ms) and will be retried" + (f" ({detail})" if detail else ""))

    def __reduce__(self) -> tuple[type[TadbirBusy], tuple[str, str]]:  # as itself from a preparing process
        return TadbirBusy, (self.table, self.detail)


@dataclass(frozen=True)
class ReadSettings:
    lock_timeout_ms: int = 5000
    snapshot: bool = False


def session_statements(dialect: str, settings: ReadSettings) -> list[str]:
    """What each new Tadbir connection runs first, per dialect."""
    ms = int(settings.lock_timeout_ms)
    if dialect == "mssql":
        # ymd whatever the login's language says (a dmy login misreads '2025-06-01 10:30' as 6 January);
        # parameters are sent unambiguously anyway (hamgam.tadbir.mssql_params)
        return [f"SET LOCK_TIMEOUT {ms}", "SET DATEFORMAT ymd"]
    if dialect == "postgresql":
        return [f"SET lock_timeout = '{max(ms, 1)}ms'"]  # 0 would mean "wait forever" there
    if dialect == "sqlite":
        return [f"PRAGMA busy_timeout = {ms}"]
    return []


_settings: weakref.WeakKeyDictionary[sa.Engine, ReadSettings] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_APPLIED = "hamgam_read_settings"


def _on_checkout(engine: sa.Engine):
    ref = weakref.ref(engine)

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        target = ref()
        if target is None:
            return
        settings = _settings.get(target)
        if settings is None or record.info.get(_APPLIED) == settings:
            return
        cursor = dbapi_connection.cursor()
        try:
            for statement in session_statements(target.dialect.name, settings):
                cursor.execute(statement)
        finally:
            cursor.close()
        if target.dialect.name == "postgresql":
            dbapi_connection.commit()  # a SET inside the driver's implicit transaction would roll back with it
        record.info[_APPLIED] = settings

    return checkout


def configure(engine: sa.Engine, settings: ReadSettings) -> None:
    """Apply ``settings`` to every connection of ``engine`` from now on (once per pooled connection)."""
    base = engine.engine if hasattr(engine, "engine") else engine  # an OptionEngine shares its pool
    with _lock:
        if base not in _settings:
            sa.event.listen(base.pool, "checkout", _on_checkout(base))
            mssql_params.install(base)
        _settings[base] = settings


def read_engine(engine: sa.Engine, settings: ReadSettings) -> sa.Engine:
    """``engine`` with the read-session settings; under SNAPSHOT isolation on SQL Server when asked (writes
    through the plain engine keep the database's default isolation)."""
    configure(engine, settings)
    if settings.snapshot and engine.dialect.name == "mssql":
        return engine.execution_options(isolation_level="SNAPSHOT")
    return engine


def settings_for(ctx: Any) -> ReadSettings:
    """The read settings of a sync context (``sync.read_lock_timeout_ms``, the company's ``snapshot_reads``)."""
    sync = ctx.config.sync
    snapshot = ctx.company.snapshot_reads if ctx.company.snapshot_reads is not None else sync.snapshot_reads
    return ReadSettings(sync.read_lock_timeout_ms, bool(snapshot))


def is_lock_timeout(error: BaseException) -> bool:
    """A lock wait that ran out of time, on SQL Server, PostgreSQL or SQLite."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) in (PG_LOCK_NOT_AVAILABLE, PG_QUERY_CANCELED):
        return True
    args = getattr(orig, "args", ())
    if args and args[0] == MSSQL_LOCK_TIMEOUT:  # pymssql: (number, message)
        return True
    text = str(orig).lower()
    return "lock request time out" in text or "database is locked" in text or "lock timeout" in text


@contextmanager
def reading(table: str) -> Iterator[None]:
    """Turn a lock timeout while reading ``table`` into :class:`TadbirBusy`."""
    try:
        yield
    except sa.exc.DBAPIError as error:
        if is_lock_timeout(error):
            raise TadbirBusy(table, str(getattr(error, "orig", error)).splitlines()[0][:200]) from error
        raise
