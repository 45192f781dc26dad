"""Checksums the database computes: per key range of an entity's rows, and over its whole scope (the probe).

One SQLAlchemy Core code path, compiled per dialect:

* SQL Server: ``BINARY_CHECKSUM(col, …)`` per row, aggregated with ``CHECKSUM_AGG`` and with a ``SUM`` of the
  same value as ``BIGINT`` (``CHECKSUM_AGG`` is XOR-like: two equal changes cancel; the sum does not);
* PostgreSQL: ``hashtextextended(CAST(ROW(col, …) AS TEXT), 0)`` per row (64 bits; ``ROW(…)::text`` quotes
  and separates values unambiguously, NULL included), summed (``numeric``: no overflow);
* SQLite has no hash function: a deterministic Python function ``hamgam_row_hash`` (CRC-32 of the row's
  values as ``marshal`` encodes them) is registered on the connection before each checksum statement, and summed.

Every aggregate comes with ``COUNT(*)``. The checksum of a range is ``count:sum[:checksum_agg]`` of its
headers, then of its lines (lines belong to the range of their header: ``parent_id / range_size``).

Collision risk: a changed row whose new row hash equals its old one (2⁻³² per change on SQLite, 2⁻⁶⁴ on
PostgreSQL, BINARY_CHECKSUM's known weak spots on SQL Server: it is not a cryptographic hash) would go
unseen by the checksum pass; the daily ``scan`` reconcile (``hamgam.tadbir.changes.reconcile``) is the guard.
"""

from __future__ import annotations

import marshal
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from hamgam.tadbir.reader import Source

SQLITE_ROW_HASH = "hamgam_row_hash"
CHECKSUM_VERSION = f"2:py{sys.version_info[0]}.{sys.version_info[1]}"  # a new one reads every range again
# (the Python version is in it: SQLite's row hash is marshal's encoding, which may change between versions)


# -- the per-row hash and its aggregates, per dialect -------------------------------------------------

class row_hash(FunctionElement):  # noqa: N801 - SQL function style
    """A hash of one row's values, computed by the database."""

    type = sa.BigInteger()
    inherit_cache = True
    name = SQLITE_ROW_HASH


@compiles(row_hash)
def _row_hash_default(element: row_hash, compiler: Any, **kw: Any) -> str:  # SQLite (the registered function)
    return f"{SQLITE_ROW_HASH}({compiler.process(element.clauses, **kw)})"


@compiles(row_hash, "mssql")
def _row_hash_mssql(element: row_hash, compiler: Any, **kw: Any) -> str:
    return f"BINARY_CHECKSUM({compiler.process(element.clauses, **kw)})"


@compiles(row_hash, "postgresql")
def _row_hash_postgresql(element: row_hash, compiler: Any, **kw: Any) -> str:
    return f"hashtextextended(CAST(ROW({compiler.process(element.clauses, **kw)}) AS TEXT), 0)"


class hash_sum(FunctionElement):  # noqa: N801
    """SUM of a row hash, without overflow: SQL Server sums 32-bit checksums as BIGINT."""

    type = sa.Numeric()
    inherit_cache = True
    name = "hash_sum"


@compiles(hash_sum)
def _hash_sum_default(element: hash_sum, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(hash_sum, "mssql")
def _hash_sum_mssql(element: hash_sum, compiler: Any, **kw: Any) -> str:
    return f"SUM(CAST({compiler.process(element.clauses, **kw)} AS BIGINT))"


class hash_agg(FunctionElement):  # noqa: N801
    """SQL Server's CHECKSUM_AGG of a row hash; elsewhere a constant (the SUM already covers it)."""

    type = sa.Integer()
    inherit_cache = True
    name = "hash_agg"


@compiles(hash_agg)
def _hash_agg_default(element: hash_agg, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(hash_agg, "mssql")
def _hash_agg_mssql(element: hash_agg, compiler: Any, **kw: Any) -> str:
    return f"CHECKSUM_AGG({compiler.process(element.clauses, **kw)})"


def _sqlite_row_hash(*values: Any, _crc: Any = zlib.crc32, _dumps: Any = marshal.dumps) -> int:
    """CRC-32 of the row's values as ``marshal`` writes them (type-tagged: 1 is not '1' nor 1.0 nor NULL; the
    fastest deterministic encoding here, stable across processes of one Python version), less 2³¹ so SQLite
    sums millions of them without overflow."""
    return _crc(_dumps(values)) - 0x80000000


def prepare_connection(conn: sa.Connection) -> None:
    """Register ``hamgam_row_hash`` on a SQLite connection (idempotent, cheap); nothing elsewhere."""
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.driver_connection
        assert dbapi is not None  # an open Connection holds a live driver connection
        dbapi.create_function(SQLITE_ROW_HASH, -1, _sqlite_row_hash, deterministic=True)


# -- what is hashed -----------------------------------------------------------------------------------

def hashed_columns(t: sa.TableClause | sa.Subquery) -> list[ColumnElement]:
    """Every column the entity reads (a superset of what its content hash covers: a change there costs a
    range read at worst, never a missed change)."""
    return list(t.c)


def range_of(column: ColumnElement, size: int) -> ColumnElement:
    """``column / size`` as integer division on every dialect (Ids are positive integers)."""
    return sa.type_coerce(column, sa.Integer()) // size


@dataclass(frozen=True)
class Scope:
    """The rows of one entity a checksum covers: its header source and, for documents, its lines."""

    header: Source
    lines: Source | None = None
    parent_column: str | None = None


def _header_parts(scope: Scope) -> tuple[sa.Subquery | sa.TableClause, ColumnElement, ColumnElement]:
    t = scope.header.selectable()
    return t, t.c[scope.header.id_column], t.c[scope.header.period_column]


def _lines_parts(scope: Scope, period_filter: Any) -> tuple[sa.Subquery | sa.TableClause, ColumnElement,
                                                            ColumnElement, ColumnElement]:
    """Lines, their parent id and period, restricted to lines whose header is in the entity's scope (the
    lines table is shared by quotes, invoices and returns: another kind's line must not count here)."""
    assert scope.lines is not None and scope.parent_column is not None
    t = scope.lines.selectable()
    parent, period = t.c[scope.parent_column], t.c[scope.lines.period_column]
    h, h_id, h_period = _header_parts(scope)
    headers = sa.select(h_id).where(h_period == period, h_id > 0)
    if period_filter is not None:
        headers = headers.where(period_filter(h_period))
    return t, parent, period, sa.exists(headers.where(h_id == parent))


def range_checksum_statements(scope: Scope, period_id: int, size: int, *, first: int | None = None,
                              last: int | None = None) -> list[sa.Select]:
    """Per key range of one fiscal period: ``range, count, sum, agg`` of headers, then of lines.

    ``first``/``last``: only ranges ``first`` … ``last`` (inclusive), e.g. one range before it is read."""
    statements = []
    h, h_id, h_period = _header_parts(scope)
    cols = hashed_columns(h)
    rng = range_of(h_id, size)
    stmt = (sa.select(rng.label("r"), sa.func.count().label("n"), hash_sum(row_hash(*cols)).label("s"),
                      hash_agg(row_hash(*cols)).label("x"))
            .where(h_period == period_id, h_id > 0).group_by(rng))
    if first is not None:
        stmt = stmt.where(h_id >= first * size)
    if last is not None:
        stmt = stmt.where(h_id < (last + 1) * size)
    statements.append(stmt)
    if scope.lines is not None:
        t, parent, period, in_scope = _lines_parts(scope, None)
        cols = hashed_columns(t)
        rng = range_of(parent, size)
        stmt = (sa.select(rng.label("r"), sa.func.count().label("n"), hash_sum(row_hash(*cols)).label("s"),
                          hash_agg(row_hash(*cols)).label("x"))
                .where(period == period_id, parent > 0, in_scope).group_by(rng))
        if first is not None:
            stmt = stmt.where(parent >= first * size)
        if last is not None:
            stmt = stmt.where(parent < (last + 1) * size)
        statements.append(stmt)
    return statements


def _part(row: Any) -> str:
    return f"{int(row.n)}:{int(row.s or 0)}:{int(row.x or 0)}"


def range_checksums(conn: sa.Connection, scope: Scope, period_id: int, size: int, *, first: int | None = None,
                    last: int | None = None) -> dict[int, str]:
    """``{range: checksum}`` of one fiscal period, computed by the database (no row leaves it)."""
    prepare_connection(conn)
    headers, *lines = range_checksum_statements(scope, period_id, size, first=first, last=last)
    out: dict[int, list[str]] = {}
    for row in conn.execute(headers):
        out[int(row.r)] = [_part(row), "-"]
    for statement in lines:
        for row in conn.execute(statement):
            out.setdefault(int(row.r), ["-", "-"])[1] = _part(row)
    return {r: "h" + parts[0] + "|l" + parts[1] for r, parts in out.items()}


def scope_statement(scope: Scope, period_ids: Sequence[int] | sa.Select | None = None) -> sa.Select:
    """One statement: count, max id, hash sum and agg of the headers and of the lines of the scope (all
    periods, or those of ``period_ids`` — a list or a subquery of ids)."""
    def in_periods(column: ColumnElement) -> ColumnElement:
        return sa.true() if period_ids is None else column.in_(period_ids)

    h, h_id, h_period = _header_parts(scope)
    cols = hashed_columns(h)
    headers = (sa.select(sa.func.count().label("n"), sa.func.max(h_id).label("m"),
                         hash_sum(row_hash(*cols)).label("s"), hash_agg(row_hash(*cols)).label("x"))
               .where(h_id > 0, in_periods(h_period)).subquery("probe_headers"))
    columns = [headers.c.n, headers.c.m, headers.c.s, headers.c.x]
    joined: Any = headers
    if scope.lines is not None:
        t, parent, period, in_scope = _lines_parts(scope, in_periods)
        lcols = hashed_columns(t)
        lines = (sa.select(sa.func.count().label("n"), sa.func.max(t.c[scope.lines.id_column]).label("m"),
                           hash_sum(row_hash(*lcols)).label("s"), hash_agg(row_hash(*lcols)).label("x"))
                 .where(parent > 0, in_periods(period), in_scope).subquery("probe_lines"))
        columns += [lines.c.n.label("ln"), lines.c.m.label("lm"), lines.c.s.label("ls"), lines.c.x.label("lx")]
        joined = headers.join(lines, sa.true())  # two one-row aggregates side by side
    return sa.select(*columns).select_from(joined)
