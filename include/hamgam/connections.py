"""SQLAlchemy engines from Airflow connections (Tadbir per company, the hamgam_state ledger).

A connection may carry ``{"sqlalchemy_url": "..."}`` in its extras; otherwise the URL is built from
its type: ``mssql`` (``mssql_url``), ``postgres`` or ``sqlite`` (host = file path).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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
        return mssql_url(conn_id, conn.host, conn.port, conn.login, conn.password, conn.schema, extra)
    raise ValueError(f"connection {conn_id!r} of type {conn.conn_type!r}: set extra 'sqlalchemy_url' "
                     "or use a mssql, postgres or sqlite connection")


# extras that choose the URL itself, not options for the driver
_URL_EXTRAS = frozenset({"sqlalchemy_url", "sqlalchemy_scheme", "instance"})


def mssql_url(conn_id: str, host: str | None, port: int | None, login: str | None, password: str | None,
              database: str | None, extra: dict[str, Any]) -> str:
    """The SQLAlchemy URL of a ``mssql`` connection, as pymssql must receive it.

    The server is ``host`` (``tadbir-sql``), a named instance (``tadbir-sql\\Tadbir`` in the host, or the
    extra ``instance``: SQL Server Browser then finds its port) or ``host`` + ``port``. An instance and a
    port together are refused: which one FreeTDS would honour is not something hamgam has observed. The
    provider's ``MsSqlHook.get_uri()`` URL-quotes the host, so pymssql would look for a server named
    ``tadbir-sql%5CTadbir``; here the URL is built by SQLAlchemy, which leaves the host as given. The other
    extras (``tds_version``, ``charset`` ...) are passed to pymssql; ``sqlalchemy_scheme`` picks another
    driver (default ``mssql+pymssql``)."""
    server = host or ""
    if extra.get("instance"):
        server = f"{server}\\{extra['instance']}"
    if "\\" in server and port:
        raise ValueError(f"connection {conn_id!r}: give the named instance ({server!r}) or the port ({port}), "
                         "not both")
    options = {key: str(value) for key, value in extra.items() if key not in _URL_EXTRAS and value is not None}
    url = sa.URL.create(str(extra.get("sqlalchemy_scheme") or "mssql+pymssql"), username=login,
                        password=password or None, host=server or None, port=port or None,
                        database=database or None, query=options)
    return url.render_as_string(hide_password=False)


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


@lru_cache(maxsize=4)
def _ledger(url: str) -> Any:
    from hamgam.ledger.store import Ledger

    return Ledger.connect(url)


def open_ledger(config: HamgamConfig) -> Any:
    """The ledger under the settings' state connection (one per URL and process)."""
    return _ledger(sqlalchemy_url(config.sync.state_conn_id))
