"""The SQL Server rows of ``hamgam check``: each statement in one place, and the judge of what SQL Server answers
to it (a pure function, tested on answers as data). No SQL Server runs here: the statements are compiled for the
mssql dialect and parsed as T-SQL in tests/check. The tables are addressed in the login's default schema
(``dbo``), as hamgam reads them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from hamgam.check.report import Row, fail, ok, warn
from hamgam.check.tables import TableUse

SCHEMA = "dbo"
NARROW_TEXT = ("varchar", "char", "text")  # one byte per character, in the collation's code page
DELETED_BY_WRITER = frozenset({"__SPArticle__"})  # a replaced quote's lines (writer.write_quote)
GOOD_DATE_FORMAT = "ymd"


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


# -- judges: what SQL Server answered -> rows ------------------------------------------------------------


def judge_text_columns(uses: Sequence[TableUse], found: Iterable[Any], default_collation: str | None) -> Row:
    """The used text columns (``text_columns`` rows) by type and collation; VARCHAR ones are a warning."""
    check = "tadbir: text columns and collation"
    wanted = {(u.table.casefold(), c.casefold()) for u in uses for c in u.columns}
    used = [r for r in found if (str(r.TABLE_NAME).casefold(), str(r.COLUMN_NAME).casefold()) in wanted]
    narrow = [r for r in used if str(r.DATA_TYPE).lower() in NARROW_TEXT]
    collations = sorted({str(r.COLLATION_NAME) for r in used})
    summary = (f"{len(used) - len(narrow)} NVARCHAR, {len(narrow)} VARCHAR; collation "
               f"{', '.join(collations) or default_collation} (database default {default_collation})")
    if not narrow:
        return ok(check, summary)
    shown = ", ".join(f"{r.TABLE_NAME}.{r.COLUMN_NAME}" for r in narrow[:8]) + (" …" if len(narrow) > 8 else "")
    return warn(check, f"{summary}; VARCHAR: {shown}",
                "VARCHAR keeps only the collation's code page: Persian text needs an Arabic/Persian collation "
                "(code page 1256) or NVARCHAR columns")


def judge_change_tracking(database: Sequence[Any] | None, tables_on: Iterable[str], tracked: Sequence[str],
                          company_index: int) -> Row:
    """``change_tracking_database``'s row (None: off), ``change_tracking_tables``' names, the tables to track."""
    check = "tadbir: change tracking"
    if database is None:
        return fail(check, "off for this database",
                    "ALTER DATABASE <db> SET CHANGE_TRACKING = ON (README, \"Change capture\"), or set "
                    f"companies[{company_index}].change_capture: checksum")
    on = {str(name).casefold() for name in tables_on}
    off = [t for t in tracked if t.casefold() not in on]
    if off:
        return fail(check, f"on for the database, off for {', '.join(off)}",
                    f"ALTER TABLE dbo.{off[0]} ENABLE CHANGE_TRACKING (and each other table named)")
    return ok(check, f"on, retention {database[0]} {str(database[1]).lower()}, {len(tracked)} tables tracked")


def wanted_permissions(uses: Sequence[TableUse], tracked: Sequence[str]) -> list[tuple[str, str]]:
    """SELECT on every table read, INSERT and UPDATE (DELETE where the writer deletes) on those written,
    VIEW CHANGE TRACKING on the tracked ones."""
    wanted = [(u.table, "SELECT") for u in uses]
    wanted += [(u.table, p) for u in uses if u.write for p in ("INSERT", "UPDATE")]
    wanted += [(u.table, "DELETE") for u in uses if u.write and u.table in DELETED_BY_WRITER]
    return wanted + [(t, "VIEW CHANGE TRACKING") for t in tracked]


def judge_permissions(wanted: Sequence[tuple[str, str]], granted: Sequence[Any]) -> list[Row]:
    """``permissions(wanted)``'s one row: 1 granted; 0 or NULL (no such table) not."""
    check = "tadbir: permissions"
    missing = [(table, perm) for (table, perm), has in zip(wanted, granted, strict=True) if has != 1]
    if not missing:
        kinds = ", ".join(dict.fromkeys(perm for _, perm in wanted))
        return [ok(check, f"all {len(wanted)} granted ({kinds})")]
    return [fail(f"{check}: {perm} on {table}", "not granted to this login",
                 f"GRANT {perm} ON dbo.{table} TO <hamgam's login>") for table, perm in missing]


def judge_date_format(found: Any) -> Row:
    check = "tadbir: session date format"
    # hamgam's sessions run SET DATEFORMAT ymd (tadbir.sessions) and send dates as ISO 8601 (tadbir.mssql_params),
    # so anything but ymd here means a session setting did not hold (a logon trigger, a proxy resetting it)
    if str(found).lower() == GOOD_DATE_FORMAT:
        return ok(check, f"{found} (hamgam's sessions set it; dates also go as ISO 8601)")
    return warn(check, f"{found}: a date given as text ('2025-03-21') is read in the order {found}",
                "give hamgam's login a default language whose date format is ymd (ALTER LOGIN <login> WITH "
                "DEFAULT_LANGUAGE = Svenska), or SET DATEFORMAT ymd in its sessions")
