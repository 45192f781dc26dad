"""SQLAlchemy engines from Airflow connections (Tadbir per company, the hamgam_state ledger).

A connection may carry ``{"sqlalchemy_url": "..."}`` in its extras; otherwise the URL is built from
its type: ``mssql`` (through the provider's MsSqlHook), ``postgres`` or ``sqlite`` (host = file path).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from hamgam.settings import HamgamConfig

_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def sqlalchemy_url(conn_id: str) -> str:
    from airflow.sdk import BaseHook


    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    kind = (conn.conn_type or "").lower()
    if kind == "sqlite":
        return f"sqlite:///{conn.host}"
    if kind in ("postgres", "postgresql"):
        return sa.URL.create("postgresql+psycopg", username=conn.login, password=conn.password or None,
                             host=conn.host, port=conn.port, database=conn.schema).render_as_string(
                                 hide_password=False)
    if kind == "mssql":
        from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

        return MsSqlHook(mssql_conn_id=conn_id).get_uri()
    raise ValueError(f"connection {conn_id!r} of type {conn.conn_type!r}: set extra 'sqlalchemy_url' "
                     "or use a mssql, postgres or sqlite connection")


def engine_for_url(url: str) -> sa.Engine:
    """One pooled engine per URL and process."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def engine_for(conn_id: str, config: HamgamConfig | None = None) -> sa.Engine:
    """The engine of a Tadbir connection: every session it opens waits at most ``sync.read_lock_timeout_ms``
    of ``config`` for a lock (without settings: the default; ``hamgam.tadbir.sessions``; detection and load
    also read under SNAPSHOT where configured)."""
    from hamgam.tadbir import sessions

    engine = engine_for_url(sqlalchemy_url(conn_id))
    timeout = config.sync.read_lock_timeout_ms if config is not None else sessions.ReadSettings().lock_timeout_ms
    sessions.configure(engine, sessions.ReadSettings(lock_timeout_ms=timeout))
    return engine
