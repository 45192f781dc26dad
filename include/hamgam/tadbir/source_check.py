"""Is what an entity reads in a company's Tadbir there? Every table and column its source reads (and its
lines'), looked up in the database's catalogue (``sa.inspect``) before a run reads them.

A missing table or column is no passing fault: a run reading it would fail the same way on every try and
every schedule. The tasks fail the run once, without retries, with this module's message (the company, the
table or column, and the setting that names it); ``hamgam check`` asks the same question of every entity.

Names are compared without regard to case (SQL Server's usual collations do the same); a view counts as a
table. Table names are looked up in the connection's default schema (``dbo`` on SQL Server), where
``hamgam.tadbir.reader`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from hamgam.tadbir.reader import Source, TableRef

if TYPE_CHECKING:
    from hamgam.entities.base import EntitySpec
    from hamgam.settings import HamgamConfig


def tables_read(ref: Source) -> dict[str, set[str]]:
    """The Tadbir tables ``ref`` reads, each with the columns it reads of it."""
    if isinstance(ref, TableRef):
        return {ref.table: {ref.id_column, ref.period_column, *ref.columns}}
    return tables_in(ref.selectable().element)


def tables_in(statement: sa.ClauseElement) -> dict[str, set[str]]:
    """The tables ``statement`` reads, each with the columns it names of it."""
    out: dict[str, set[str]] = {}
    for element in visitors.iterate(statement):
        table = getattr(element, "table", None) if isinstance(element, sa.ColumnClause) else element
        while isinstance(table, sa.Alias):  # an aliased table: the table itself
            table = table.element
        if isinstance(table, sa.TableClause) and not isinstance(table, sa.Subquery):
            columns = out.setdefault(table.name, set())
            if isinstance(element, sa.ColumnClause):
                columns.add(element.name)
    return out


STOCK = "stock"  # the reader named by the stock endpoint (hamgam.webapp.inventory); the others are entities


@dataclass(frozen=True)
class MissingSource:
    """A table (``columns`` empty) or some of its columns that company ``company``'s Tadbir does not have."""

    company: int
    reader: str  # what wanted to read it: an entity's name, "stock"
    conn_id: str
    table: str
    columns: tuple[str, ...]
    settings: tuple[str, ...]  # the settings that name them (``companies.0.assumed_tables.pay_receive.table``)

    def __str__(self) -> str:
        what = (f"Tadbir has no table {self.table}" if not self.columns
                else f"Tadbir table {self.table} has no column {', '.join(self.columns)}")
        if self.settings:
            names = "the table" if not self.columns else "each column"
            fix = (f"hamgam assumes this table: set {' and '.join(self.settings)} of company {self.company} in the "
                   f"settings file to the site's name of {names}")
            if self.reader != STOCK:
                fix += f", or turn {self.reader} off for the company (companies[].entities)"
        else:
            fix = f"is it company {self.company}'s Tadbir database? (this table is Tadbir's own, not an assumption)"
        return f"company {self.company} {self.reader}: {what} (connection {self.conn_id!r}); {fix}"

    def as_json(self) -> dict[str, object]:
        return {"company": self.company, "table": self.table, "missing_columns": list(self.columns),
                "settings": list(self.settings)}


def find_missing(engine: sa.Engine, wanted: dict[str, set[str]], config: HamgamConfig, company: int,
                 reader: str) -> MissingSource | None:
    """The first table of ``wanted`` (table → columns) company ``company``'s Tadbir lacks, or lacks columns of."""
    settings = config.company(company)
    index = next(i for i, c in enumerate(config.companies) if c.code == company)

    def missing(table: str, columns: tuple[str, ...]) -> MissingSource:
        names = [settings.assumed_tables.setting_of(table, c) for c in columns or (None,)]
        where = tuple(dict.fromkeys(f"companies.{index}.assumed_tables.{n}" for n in names if n))
        return MissingSource(company, reader, settings.tadbir_conn_id, table, columns, where)

    inspector = sa.inspect(engine)
    for table in sorted(wanted):
        if not inspector.has_table(table):
            return missing(table, ())
        present = {str(c["name"]).lower() for c in inspector.get_columns(table)}
        lacking = tuple(sorted(c for c in wanted[table] if c.lower() not in present))
        if lacking:
            return missing(table, lacking)
    return None


def missing_source(engine: sa.Engine, spec: EntitySpec, config: HamgamConfig, company: int) -> str | None:
    """Why ``spec`` cannot be read from company ``company``'s Tadbir (``engine``): the first missing table, or
    the missing columns of a table, and the setting to change; None when everything it reads is there."""
    resolved = spec.for_company(config.company(company))
    wanted = tables_read(resolved.source)
    if resolved.lines is not None:
        for table, columns in tables_read(resolved.lines.source).items():
            wanted.setdefault(table, set()).update(columns)
    found = find_missing(engine, wanted, config, company, spec.name)
    return None if found is None else str(found)
