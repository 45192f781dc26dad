"""Which Tadbir tables and columns hamgam reads or writes for one company: the list the Tadbir check compares
with the real database.

One function, ``tables_used``, derives it from what runs: the entity specs' sources and lines (the queries
are built and walked, so every column a join or a filter names counts), the fiscal periods, the web app's
stock read, and the reverse flow's tables (the columns its INSERTs name). Tables hamgam only assumes (reference section 7) are marked so; a site
whose treasury or stock lives elsewhere points ``companies[].assumed_tables`` at its own tables, and this
function reads the names from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from hamgam.settings import CompanyConfig, HamgamConfig
from hamgam.tadbir import schema


def assumed_tables(company: CompanyConfig) -> dict[str, str]:
    """hamgam's own assumptions, not vendor tables (schema.py, tadbir-schema.md section 7), under the names
    ``company``'s settings give them: table -> its key under ``companies[].assumed_tables``."""
    names = company.assumed_tables
    return {names.pay_receive.table: "pay_receive", names.merch_stock_qty.table: "merch_stock_qty",
            names.article.table: "article"}
FISCAL_PERIOD_COLUMNS = ("Id", "Name", "StartDate", "EndDate")  # what reader.fiscal_periods reads


@dataclass(frozen=True)
class TableUse:
    """One table as hamgam uses it: the columns it names, whether it reads and writes it, and what for."""

    table: str
    columns: tuple[str, ...]
    write: bool
    used_by: tuple[str, ...]
    column_users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # column -> what names it
    assumed_as: str | None = None  # an assumed table: its key under ``companies[].assumed_tables``

    def users_of(self, column: str) -> tuple[str, ...]:
        return self.column_users.get(column, self.used_by)

    @property
    def assumed(self) -> bool:
        return self.assumed_as is not None

    def reference(self, column: str) -> sa.Column | None:
        """The column in hamgam's reference schema (its expected type), if the schema has it."""
        table = schema.metadata.tables.get(self.table)
        return table.c[column] if table is not None and column in table.c else None


def columns_named(statement: sa.ClauseElement) -> set[tuple[str, str]]:
    """Every (table, column) of a real table that ``statement`` names, through aliases and subqueries."""
    out = set()
    for element in visitors.iterate(statement):
        if type(element) is sa.TableClause:  # ``sa.table(name, *columns)``: lists just the columns code names
            out |= {(element.name, column.name) for column in element.columns}
        elif isinstance(element, sa.ColumnClause) and element.table is not None:
            table = element.table
            while isinstance(table, sa.Alias) and isinstance(table.element, sa.TableClause):
                table = table.element
            if isinstance(table, sa.TableClause) and not isinstance(table, sa.Alias):
                out.add((table.name, element.name))
    return out


def _reads(config: HamgamConfig, company: CompanyConfig) -> list[tuple[str, set[tuple[str, str]]]]:
    from hamgam.entities import SPECS
    from hamgam.webapp.balance import balance_query
    from hamgam.webapp.inventory import _stock_query

    fiscal = sa.table(schema.fiscal_period.name, *(sa.column(c) for c in FISCAL_PERIOD_COLUMNS))
    reads: list[tuple[str, set[tuple[str, str]]]] = [("fiscal periods", columns_named(sa.select(fiscal)))]
    for name, spec in SPECS.items():
        if config.syncs(company, name):
            spec = spec.for_company(company)  # the assumed tables under the names this site's settings give
            named = columns_named(sa.select(spec.source.selectable()))
            if spec.lines is not None:
                named |= columns_named(sa.select(spec.lines.source.selectable()))
            reads.append((name, named))
    reads.append(("web app stock read", columns_named(_stock_query(0, company.assumed_tables.merch_stock_qty))))
    reads.append(("web app balance read", columns_named(balance_query(0, 0, company.assumed_tables.article))))
    return reads


def _writes(config: HamgamConfig) -> list[tuple[str, set[tuple[str, str]]]]:
    """The reverse flow's tables (``hamgam.tadbir.writer``), when it is on and may write: the columns the writer
    sets (``write_tables.WRITTEN``; an INSERT names no other, the rest is left to the table's defaults)."""
    from hamgam.tadbir.write_tables import WRITTEN

    def written(*tables: sa.Table) -> set[tuple[str, str]]:
        return {(t.name, column) for t in tables for column in WRITTEN[t.name]}

    writes = []
    identities = config.reverse.identities
    if identities.enabled and identities.system_of_record != "tadbir":
        writes.append(("reverse identities", written(schema.customer, schema.detail_acc)))
    if config.reverse.quotes.enabled:
        writes.append(("reverse quotes", written(schema.sp_factor, schema.sp_article)))
    return writes


def _merge(reads: Iterable[tuple[str, set[tuple[str, str]]]],
           writes: Iterable[tuple[str, set[tuple[str, str]]]], assumed: Mapping[str, str]) -> list[TableUse]:
    columns: dict[str, dict[str, dict[str, None]]] = {}  # table -> column -> its users
    users: dict[str, dict[str, None]] = {}
    written: set[str] = set()
    for is_write, uses in ((False, reads), (True, writes)):
        for user, named in uses:
            for table, column in sorted(named):
                columns.setdefault(table, {}).setdefault(column, {})[user] = None
                users.setdefault(table, {})[user] = None
                if is_write:
                    written.add(table)
    order = list(schema.metadata.tables)
    return [TableUse(table, tuple(columns[table]), table in written, tuple(users[table]),
                     {column: tuple(by) for column, by in columns[table].items()}, assumed.get(table))
            for table in sorted(columns, key=lambda t: (order.index(t) if t in order else len(order), t))]


def tables_used(config: HamgamConfig, company: CompanyConfig) -> list[TableUse]:
    """The tables and columns hamgam reads or writes in ``company``'s Tadbir, for the entities it syncs."""
    return _merge(_reads(config, company), _writes(config), assumed_tables(company))
