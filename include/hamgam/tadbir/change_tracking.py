"""SQL Server Change Tracking: which rows of a table changed since a version.

NOT RUN ON A REAL SQL SERVER: the statements are compiled for the mssql dialect and parsed as T-SQL in the
tests, and the logic around them runs against a fake provider (a table that emulates ``CHANGETABLE``).

Enabling it is the site's decision (README, "Change capture"): ``ALTER DATABASE … SET CHANGE_TRACKING = ON``,
``ALTER TABLE dbo.<table> ENABLE CHANGE_TRACKING`` for every table an entity reads, and
``GRANT VIEW CHANGE TRACKING ON dbo.<table> TO <hamgam's user>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

CHANGE_COLUMNS = ("SYS_CHANGE_VERSION", "SYS_CHANGE_OPERATION")


@dataclass(frozen=True)
class TrackedChange:
    """One row of ``CHANGETABLE(CHANGES …)``: its key, the operation (I, U, D) and, for a line, its parent
    (None when the line is gone: Change Tracking keeps only the primary key of a deleted row)."""

    key: tuple[Any, ...]
    operation: str
    version: int
    parent: int | None = None


class ChangeTrackingProvider(Protocol):
    """What the ``change_tracking`` source asks the database; the tests give a fake one."""

    def current_version(self, conn: sa.Connection) -> int | None: ...

    def min_valid_version(self, conn: sa.Connection, table: str) -> int | None: ...

    def changes(self, conn: sa.Connection, table: str, key_columns: Sequence[str], since: int, until: int, *,
                parent_column: str | None = None) -> list[TrackedChange]: ...


def changetable(table: str, since: int | sa.ColumnElement, key_columns: Sequence[str], alias: str = "ct",
                schema: str = "dbo") -> Any:
    """``CHANGETABLE(CHANGES [dbo].[<table>], <since>) AS <alias>`` as a table-valued function with its key
    columns and the change columns."""
    target: sa.ColumnClause[Any] = sa.literal_column(f"CHANGES {_quoted(schema)}.{_quoted(table)}")
    since = since if isinstance(since, sa.ColumnElement) else sa.literal(int(since), sa.BigInteger())
    return (sa.func.CHANGETABLE(target, since)
            .table_valued(*(sa.column(k) for k in key_columns), sa.column("SYS_CHANGE_OPERATION"),
                          sa.column("SYS_CHANGE_VERSION", sa.BigInteger()))
            .alias(alias))


def _quoted(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def current_version_statement() -> sa.Select:
    return sa.select(sa.func.CHANGE_TRACKING_CURRENT_VERSION())


def min_valid_version_statement(table: str, schema: str = "dbo") -> sa.Select:
    return sa.select(sa.func.CHANGE_TRACKING_MIN_VALID_VERSION(sa.func.OBJECT_ID(f"{schema}.{table}")))


def changes_statement(table: str, key_columns: Sequence[str], since: int, until: int, *,
                      parent_column: str | None = None, schema: str = "dbo") -> sa.Select:
    """The changes of ``table`` after version ``since`` up to ``until`` (the current version read first, so
    the next run starts exactly there). For a lines table, ``parent_column`` of the live row is joined in."""
    ct = changetable(table, since, key_columns, schema=schema)
    columns = [*(ct.c[k] for k in key_columns), ct.c.SYS_CHANGE_OPERATION, ct.c.SYS_CHANGE_VERSION]
    source: Any = ct
    if parent_column is not None:
        live = sa.table(table, *(sa.column(k) for k in key_columns), sa.column(parent_column),
                        schema=schema).alias("t")
        source = ct.outerjoin(live, sa.and_(*(live.c[k] == ct.c[k] for k in key_columns)))
        columns.append(live.c[parent_column].label("parent"))
    return (sa.select(*columns).select_from(source).where(ct.c.SYS_CHANGE_VERSION <= until)
            .order_by(ct.c.SYS_CHANGE_VERSION))


class MssqlChangeTracking:
    """The real provider: SQL Server's Change Tracking functions."""

    def current_version(self, conn: sa.Connection) -> int | None:
        value = conn.execute(current_version_statement()).scalar()
        return None if value is None else int(value)  # NULL: Change Tracking is off for the database

    def min_valid_version(self, conn: sa.Connection, table: str) -> int | None:
        value = conn.execute(min_valid_version_statement(table)).scalar()
        return None if value is None else int(value)  # NULL: not enabled on this table (or no permission)

    def changes(self, conn: sa.Connection, table: str, key_columns: Sequence[str], since: int, until: int, *,
                parent_column: str | None = None) -> list[TrackedChange]:
        stmt = changes_statement(table, key_columns, since, until, parent_column=parent_column)
        out = []
        for row in conn.execute(stmt):
            m = row._mapping
            parent = m.get("parent") if parent_column is not None else None
            out.append(TrackedChange(tuple(m[k] for k in key_columns), str(m["SYS_CHANGE_OPERATION"]).strip(),
                                     int(m["SYS_CHANGE_VERSION"]), None if parent is None else int(parent)))
        return out


MSSQL_CHANGE_TRACKING = MssqlChangeTracking()
