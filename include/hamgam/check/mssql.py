"""The SQL Server statements of ``hamgam check``, each in one place (compiled for the mssql dialect and parsed
as T-SQL in tests/check: no SQL Server runs here). The tables are addressed in the login's default schema
(``dbo``), as hamgam reads them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

SCHEMA = "dbo"


def server_version() -> sa.Select:
    """Product version, level and edition: ``16.0.4135.4``, ``RTM``, ``Developer Edition (64-bit)``."""
    prop = sa.func.SERVERPROPERTY
    return sa.select(sa.cast(prop("ProductVersion"), sa.Unicode(128)).label("version"),
                     sa.cast(prop("ProductLevel"), sa.Unicode(128)).label("level"),
                     sa.cast(prop("Edition"), sa.Unicode(128)).label("edition"))


def database_collation() -> sa.Select:
    return sa.select(sa.cast(sa.func.DATABASEPROPERTYEX(sa.func.DB_NAME(), "Collation"), sa.Unicode(128)))


def text_columns(tables: Sequence[str]) -> sa.Select:
    """Every text column of ``tables`` with its type (varchar / nvarchar / char / nchar / text / ntext), length
    and collation."""
    c = sa.table("COLUMNS", sa.column("TABLE_SCHEMA"), sa.column("TABLE_NAME"), sa.column("COLUMN_NAME"),
                 sa.column("DATA_TYPE"), sa.column("CHARACTER_MAXIMUM_LENGTH"), sa.column("COLLATION_NAME"),
                 schema="INFORMATION_SCHEMA")
    return (sa.select(c.c.TABLE_NAME, c.c.COLUMN_NAME, c.c.DATA_TYPE, c.c.CHARACTER_MAXIMUM_LENGTH,
                      c.c.COLLATION_NAME)
            .where(c.c.TABLE_SCHEMA == sa.func.SCHEMA_NAME(), c.c.TABLE_NAME.in_(list(tables)),
                   c.c.COLLATION_NAME.is_not(None))
            .order_by(c.c.TABLE_NAME, c.c.COLUMN_NAME))


def change_tracking_database() -> sa.Select:
    """One row when Change Tracking is on for the current database (its retention)."""
    d = sa.table("change_tracking_databases", sa.column("database_id"), sa.column("retention_period"),
                 sa.column("retention_period_units_desc"), schema="sys")
    return sa.select(d.c.retention_period, d.c.retention_period_units_desc).where(d.c.database_id == sa.func.DB_ID())


def change_tracking_tables() -> sa.Select:
    """The names of the current database's tables with Change Tracking on."""
    t = sa.table("change_tracking_tables", sa.column("object_id"), schema="sys")
    return sa.select(sa.func.OBJECT_NAME(t.c.object_id).label("name"))


def permissions(wanted: Sequence[tuple[str, str]]) -> sa.Select:
    """One row: for each (table, permission), ``HAS_PERMS_BY_NAME('dbo.<table>', 'OBJECT', <permission>)``
    (1 granted, 0 not, NULL: no such table) as column ``p<i>``."""
    return sa.select(*(sa.func.HAS_PERMS_BY_NAME(f"{SCHEMA}.{table}", "OBJECT", permission).label(f"p{i}")
                       for i, (table, permission) in enumerate(wanted)))


def session_date_format() -> sa.Select:
    """The date format of this login's session (``mdy`` for us_english, ``dmy`` for many others)."""
    s = sa.table("dm_exec_sessions", sa.column("session_id"), sa.column("date_format"), schema="sys")
    return sa.select(s.c.date_format).where(s.c.session_id == sa.literal_column("@@SPID"))
