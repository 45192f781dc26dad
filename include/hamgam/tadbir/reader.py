"""Reading Tadbir through SQLAlchemy Core: the same statements speak T-SQL and SQLite.

Tables are addressed by name (``sa.table``), not reflected, so an entity spec or the settings can
point at a site's own table and column names without a round trip to the server.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from hamgam.tadbir.sessions import reading

if TYPE_CHECKING:
    import pandas as pd

MSSQL_MAX_PARAMS = 1000  # stay far below SQL Server's 2100 parameters per statement


@dataclass(frozen=True)
class FiscalPeriod:
    id: int
    year: int  # Jalali year of the period's first day
    start: date
    end: date
    name: str


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value).replace(" ", "T")).date()


def fiscal_periods(engine: sa.Engine, table: str = "__FiscalPeriod__") -> list[FiscalPeriod]:
    """All fiscal periods, oldest first, with their Jalali year (jdatetime does the calendar)."""
    import jdatetime

    t = sa.table(table, sa.column("Id"), sa.column("Name"), sa.column("StartDate"), sa.column("EndDate"))
    with reading(table), engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.Id, t.c.Name, t.c.StartDate, t.c.EndDate).where(t.c.Id > 0)).all()
    periods = []
    for row in rows:
        start, end = _as_date(row.StartDate), _as_date(row.EndDate)
        year = jdatetime.date.fromgregorian(date=start).year
        periods.append(FiscalPeriod(int(row.Id), year, start, end, row.Name or ""))
    return sorted(periods, key=lambda p: p.start)


@dataclass(frozen=True)
class TableRef:
    """Where an entity lives in Tadbir: table, row id, fiscal-period column and the columns read."""

    table: str
    columns: tuple[str, ...]
    id_column: str = "Id"
    period_column: str = "FPId"

    def selectable(self) -> sa.TableClause:
        names = dict.fromkeys((self.id_column, self.period_column, *self.columns))
        return sa.table(self.table, *(sa.column(name) for name in names))


@dataclass(frozen=True)
class QueryRef:
    """An entity whose rows come from a query (joins for codes and names, a filter on the kind of
    document): ``build`` returns a subquery with the id and fiscal-period columns among its columns."""

    name: str
    build: Callable[[], sa.Subquery]
    id_column: str = "Id"
    period_column: str = "FPId"

    def selectable(self) -> sa.Subquery:
        return _built(self.build)


@functools.cache
def _built(build: Callable[[], sa.Subquery]) -> sa.Subquery:
    """A query source's subquery, built once (a statement is immutable; building one costs ~3 ms a read)."""
    return build()


Source = TableRef | QueryRef


def table_name(ref: Source) -> str:
    """The Tadbir table a source reads (its main table, for a query): how errors name it."""
    return ref.table if isinstance(ref, TableRef) else ref.name


_PARSED_TYPES = (sa.Date, sa.DateTime, sa.Time, sa.Numeric, sa.Boolean)  # SQLAlchemy converts their values


def _as_stored(t: sa.TableClause | sa.Subquery) -> list[sa.ColumnElement]:
    """Every column of ``t``, with values as the database driver returns them. SQLAlchemy's own conversion
    of SQLite's stored text fails a whole read on one legacy value (a date ``0000/00/00`` or a Jalali date
    as text, a quantity ``دو``); the entity reads each value and makes one it cannot read that row's problem."""
    return [sa.type_coerce(c, sa.types.NullType()).label(c.key) if isinstance(c.type, _PARSED_TYPES) else c
            for c in t.c]


def periods_with_rows(engine: sa.Engine, ref: Source, period_ids: Sequence[int]) -> set[int]:
    t = ref.selectable()
    period = t.c[ref.period_column]
    stmt = sa.select(period).where(period.in_(list(period_ids))).group_by(period)
    with reading(table_name(ref)), engine.connect() as conn:
        return {int(v) for v in conn.execute(stmt).scalars()}


def read_period(engine: sa.Engine, ref: Source, period_id: int, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Every row of one fiscal period, in chunks of ``chunk_size`` (memory stays flat)."""
    import pandas as pd

    t = ref.selectable()
    stmt = (sa.select(*_as_stored(t)).where(t.c[ref.period_column] == period_id, t.c[ref.id_column] > 0)
            .order_by(t.c[ref.id_column]))
    with reading(table_name(ref)), engine.connect().execution_options(stream_results=True) as conn:
        yield from pd.read_sql(stmt, conn, chunksize=chunk_size)


def read_range(engine: sa.Engine, ref: Source, period_id: int, first_id: int, end_id: int,
               chunk_size: int) -> Iterator[pd.DataFrame]:
    """The rows of one fiscal period with ``first_id <= Id < end_id`` (one key range), ordered by Id, in
    chunks of ``chunk_size``."""
    import pandas as pd

    t = ref.selectable()
    row_id = t.c[ref.id_column]
    stmt = (sa.select(*_as_stored(t))
            .where(t.c[ref.period_column] == period_id, row_id > 0, row_id >= first_id, row_id < end_id)
            .order_by(row_id))
    with reading(table_name(ref)), engine.connect().execution_options(stream_results=True) as conn:
        yield from pd.read_sql(stmt, conn, chunksize=chunk_size)


def read_rows(engine: sa.Engine, ref: Source, period_id: int, ids: Sequence[int]) -> pd.DataFrame:
    """The rows of one fiscal period with these ids (in batches that SQL Server accepts)."""
    import pandas as pd

    t = ref.selectable()
    frames = []
    unique_ids = sorted(set(int(i) for i in ids))
    with reading(table_name(ref)), engine.connect() as conn:
        for start in range(0, len(unique_ids), MSSQL_MAX_PARAMS):
            batch = unique_ids[start:start + MSSQL_MAX_PARAMS]
            stmt = sa.select(*_as_stored(t)).where(t.c[ref.period_column] == period_id,
                                                   t.c[ref.id_column].in_(batch))
            frames.append(pd.read_sql(stmt, conn))
    if not frames:
        return pd.DataFrame(columns=list(t.c.keys()))
    return pd.concat(frames, ignore_index=True)


def read_children(engine: sa.Engine, ref: Source, parent_column: str, period_id: int,
                  parent_ids: Sequence[int]) -> pd.DataFrame:
    """The child rows (document lines) of these parents in one fiscal period, ordered by parent, then id."""
    import pandas as pd

    t = ref.selectable()
    unique_ids = sorted(set(int(i) for i in parent_ids))
    frames = []
    with reading(table_name(ref)), engine.connect() as conn:
        for start in range(0, len(unique_ids), MSSQL_MAX_PARAMS):
            batch = unique_ids[start:start + MSSQL_MAX_PARAMS]
            stmt = (sa.select(*_as_stored(t)).where(t.c[ref.period_column] == period_id,
                                                    t.c[parent_column].in_(batch))
                    .order_by(t.c[parent_column], t.c[ref.id_column]))
            frames.append(pd.read_sql(stmt, conn))
    if not frames:
        return pd.DataFrame(columns=list(t.c.keys()))
    return pd.concat(frames, ignore_index=True)
