"""Date and datetime parameters as SQL Server reads them the same way under every login.

pymssql puts a parameter into the statement text as a literal: a ``datetime`` becomes
``'2025-06-01 10:30:00.000'`` and a ``date`` ``'2025-06-01'``. For a DATETIME or SMALLDATETIME column SQL
Server reads both by the session's DATEFORMAT, which follows the login's language: a login with a
``dmy`` language (British, and the Persian set-ups of many Tadbir sites) reads year-day-month — June 1st
becomes January 6th, or the statement fails for a day above 12. Two formats are read the same under every
DATEFORMAT and language: ISO 8601 with a ``T`` (``2025-06-01T10:30:00.000``) and the unseparated date
``20250601``. Before each statement on a SQL Server engine, hamgam turns its date and datetime parameters
into those strings (pymssql then sends them as ``N'…'``; SQL Server converts them to the column's type).
The read sessions also ``SET DATEFORMAT ymd`` (``hamgam.tadbir.sessions``) for what is not a parameter.

A datetime with a time zone is left to pymssql (hamgam's Tadbir values are naive Tehran wall time:
``hamgam.tadbir.clock``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa


def unambiguous(value: Any) -> Any:
    """A naive datetime as ``YYYY-MM-DDTHH:MM:SS.mmm`` (milliseconds: DATETIME takes at most three digits),
    a date as ``YYYYMMDD``; anything else unchanged."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        return value.strftime(f"{value.year:04d}-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    return value


def _one_set(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {k: unambiguous(v) for k, v in parameters.items()}
    if isinstance(parameters, tuple):
        return tuple(unambiguous(v) for v in parameters)
    if isinstance(parameters, list):
        return [unambiguous(v) for v in parameters]
    return unambiguous(parameters)


def unambiguous_parameters(parameters: Any, executemany: bool) -> Any:
    """The driver parameters of one statement (a mapping or a sequence; for ``executemany`` a sequence of
    them) with every date and datetime made unambiguous."""
    if executemany and isinstance(parameters, Sequence) and not isinstance(parameters, str | bytes):
        return [_one_set(p) for p in parameters]
    return _one_set(parameters)


def _before_cursor_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                           executemany: bool) -> tuple[str, Any]:
    return statement, unambiguous_parameters(parameters, executemany)


def install(engine: sa.Engine) -> None:
    """Every statement of a SQL Server ``engine`` sends its dates and datetimes unambiguously (idempotent;
    nothing on another dialect)."""
    if engine.dialect.name != "mssql":
        return
    if not sa.event.contains(engine, "before_cursor_execute", _before_cursor_execute):
        sa.event.listen(engine, "before_cursor_execute", _before_cursor_execute, retval=True)


def is_installed(engine: sa.Engine) -> bool:
    return sa.event.contains(engine, "before_cursor_execute", _before_cursor_execute)
