"""Engines for the ledger database: SQLite (file) or PostgreSQL.

SQLite gets WAL (readers never block the writer), a busy timeout (writers queue instead of failing
with "database is locked") and foreign keys. The sqlite3 driver's own transaction handling is
switched off so that SQLAlchemy emits BEGIN itself: reads use a plain BEGIN, writes and migrations
``BEGIN IMMEDIATE`` (take the write lock up front, so a transaction never has to upgrade a read lock
and fail). PostgreSQL gets ``pool_pre_ping`` so a restarted server does not fail the next task.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option naming the SQLite BEGIN mode ("DEFERRED" or "IMMEDIATE"); ignored by PostgreSQL.
SQLITE_BEGIN = "hamgam_sqlite_begin"

# Persian text stays readable in the database; Decimal, date, numpy scalars become strings.
_json_dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)


def normalize_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pointed at psycopg 3 (``postgres://`` and ``postgresql://`` included)."""
    u = make_url(url)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for the ledger; extra keyword arguments go to ``create_engine``."""
    u = normalize_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(u, json_serializer=_json_dumps, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_engine(u, json_serializer=_json_dumps, pool_pre_ping=True, **kwargs)
    raise ValueError(f"the hamgam ledger runs on SQLite or PostgreSQL, not {backend!r}")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    # WAL is a property of the file, so this is a no-op after the first time. Switching takes an
    # exclusive lock for which SQLite does not wait (busy_timeout does not apply): retry instead.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")  # an in-memory database stays "memory"
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
