"""What a failed write into Tadbir means: lost a race (try again) or refused for good (say why, at once).

Only two kinds of failure are worth another attempt with fresh values:

* a duplicate key — another writer took the id or number first: SQL Server 2627/2601, PostgreSQL
  SQLSTATE 23505, SQLite "UNIQUE constraint failed";
* a lock wait that ran out, or a deadlock victim: SQL Server 1205/1222, PostgreSQL 40P01/40001/55P03,
  SQLite "database is locked".

Anything else (NOT NULL, foreign key, check, a value too long or of the wrong type) fails the same way every
time: it raises :class:`WriteRefused` naming the record and, where the driver says it, the column.
SQL Server's numbers are read from pymssql's ``args[0]`` or from the ``(number)`` pyodbc puts before
``(SQLExecDirectW)`` — neither driver was seen against a real Tadbir (no SQL Server here).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from hamgam.tadbir.sessions import is_lock_timeout

MSSQL_CONTENTION = {2627, 2601, 1205, 1222}  # duplicate key (constraint, unique index), deadlock, lock timeout
PG_CONTENTION = {"23505", "40P01", "40001", "55P03"}  # unique, deadlock, serialization, lock not available

# reason by PostgreSQL SQLSTATE, SQL Server error number and SQLite message
_PG_REASONS = {"23502": "a value is missing (NOT NULL)", "23503": "a row it refers to does not exist (foreign key)",
               "23514": "a check constraint fails", "22001": "a text is longer than its column",
               "22P02": "a value has the wrong type", "22003": "a number is out of its column's range",
               "22007": "a date is not valid", "22008": "a date is out of range"}
_MSSQL_REASONS = {515: _PG_REASONS["23502"], 547: "a constraint fails (foreign key or check)",
                  2628: _PG_REASONS["22001"], 8152: _PG_REASONS["22001"], 245: _PG_REASONS["22P02"],
                  8114: _PG_REASONS["22P02"], 8115: _PG_REASONS["22003"], 241: _PG_REASONS["22007"],
                  242: _PG_REASONS["22008"]}
_SQLITE_REASONS = {"NOT NULL constraint failed": _PG_REASONS["23502"],
                   "FOREIGN KEY constraint failed": _PG_REASONS["23503"],
                   "CHECK constraint failed": _PG_REASONS["23514"], "datatype mismatch": _PG_REASONS["22P02"]}


class WriteConflict(RuntimeError):
    """Allocation kept colliding with other writers (or a fixed number is taken)."""


class NumberTaken(WriteConflict):
    """A document number chosen by the CRM (floating coding off) already exists in Tadbir."""


class WriteRefused(RuntimeError):
    """Tadbir refused a record for a reason that another attempt cannot change.

    The driver's own message is left out on purpose: PostgreSQL's "Failing row contains (...)" and SQL
    Server's truncation message carry the row's values (national codes, phone numbers)."""

    def __init__(self, record: str, reason: str, *, column: str | None = None, constraint: str | None = None,
                 code: str | None = None) -> None:
        self.record, self.reason, self.column, self.constraint, self.code = record, reason, column, constraint, code
        where = f" (column {column})" if column else f" (constraint {constraint})" if constraint else ""
        super().__init__(f"{record}: Tadbir refused it: {reason}{where}" + (f" [{code}]" if code else ""))


class TadbirSchemaMismatch(RuntimeError):
    """A Tadbir table lacks a column hamgam writes, or demands one hamgam does not: no write can succeed."""


def pg_sqlstate(orig: Any) -> str | None:
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)  # psycopg 3, psycopg2


def mssql_number(orig: Any) -> int | None:
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):  # pymssql: (number, message)
        return args[0]
    found = re.search(r"\((\d+)\) \(SQL\w+\)", str(orig))  # pyodbc: "... (2627) (SQLExecDirectW)"
    return int(found.group(1)) if found else None


def is_contention(error: sa.exc.DBAPIError, dialect: str) -> bool:
    """Did the write lose a race (duplicate key, lock wait, deadlock) rather than fail on its own?"""
    orig = error.orig
    if dialect == "mssql":
        return mssql_number(orig) in MSSQL_CONTENTION or is_lock_timeout(error)
    if dialect == "postgresql":
        return pg_sqlstate(orig) in PG_CONTENTION
    return "UNIQUE constraint failed" in str(orig) or is_lock_timeout(error)


def refusal(error: sa.exc.DBAPIError, dialect: str, record: str) -> WriteRefused:
    """The :class:`WriteRefused` of a database error that is not contention."""
    orig = error.orig
    text = str(orig).splitlines()[0] if str(orig) else ""
    if dialect == "postgresql":
        state = pg_sqlstate(orig)
        diag = getattr(orig, "diag", None)
        return WriteRefused(record, _PG_REASONS.get(state or "", "the database refused it"),
                            column=getattr(diag, "column_name", None), constraint=getattr(diag, "constraint_name", None),
                            code=f"SQLSTATE {state}" if state else type(orig).__name__)
    if dialect == "mssql":
        number = mssql_number(orig)
        column = re.search(r"column '([^']+)'", text)
        constraint = re.search(r'constraint "([^"]+)"', text)
        return WriteRefused(record, _MSSQL_REASONS.get(number or 0, "the database refused it"),
                            column=column.group(1) if column else None,
                            constraint=constraint.group(1) if constraint else None,
                            code=f"error {number}" if number else type(orig).__name__)
    reason = next((why for prefix, why in _SQLITE_REASONS.items() if text.startswith(prefix)), "the database refused it")
    column = re.match(r"NOT NULL constraint failed: [^.]+\.(\w+)", text)
    return WriteRefused(record, reason, column=column.group(1) if column else None, code=type(orig).__name__)
