"""Next ids and numbers of legacy Tadbir tables (``MAX + 1``), read under a lock held until commit.

Legacy tables have no IDENTITY columns: ids are ``MAX(Id) + 1`` per fiscal period, document numbers
``MAX(FactorNo) + 1`` per (fiscal period, document type) — and Tadbir's own users allocate the same way.
The writer takes the lock before it reads, in the transaction that inserts:

* SQL Server: every read that decides a value runs ``WITH (UPDLOCK, HOLDLOCK)``: update locks on the rows
  and key range read, held to commit, so any other session computing the same value — hamgam's or a
  Tadbir client's — waits for this transaction instead of colliding with it;
* PostgreSQL (test backend): a transaction-scoped advisory lock per (table, fiscal period);
* SQLite (demo): one writer at a time per database already; a writer that finds the database locked
  gets "database is locked" and its transaction is tried again.
"""

from __future__ import annotations

import zlib
from typing import Any

import sqlalchemy as sa

LOCK_HINT = "WITH (UPDLOCK, HOLDLOCK)"


def locked(statement: sa.Select, table: sa.Table) -> sa.Select:
    """``statement`` reading ``table`` under update + range locks on SQL Server (other dialects: unchanged)."""
    return statement.with_hint(table, LOCK_HINT, dialect_name="mssql")


def lock_key(table_name: str) -> int:
    """The first key of a table's PostgreSQL advisory lock (the second is the fiscal period): a signed int4."""
    crc = zlib.crc32(table_name.encode())
    return crc - 2**32 if crc >= 2**31 else crc


def lock_period(conn: sa.Connection, table: sa.Table, period_id: int) -> None:
    """Serialise allocation in ``table`` for one fiscal period until this transaction ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.cast(lock_key(table.name), sa.Integer),
                                                              sa.cast(period_id, sa.Integer))))


def next_value(conn: sa.Connection, table: sa.Table, column: str, *where: Any) -> int:
    """``MAX(column) + 1`` over the rows ``where`` selects (1 when there are none), read under the lock."""
    statement = sa.select(sa.func.coalesce(sa.func.max(table.c[column]), 0)).select_from(table).where(*where)
    return int(conn.execute(locked(statement, table)).scalar_one()) + 1
