"""The Tadbir tables the writer writes, as the real database has them: reflected once per engine.

An INSERT names only the columns hamgam sets (:data:`WRITTEN`); everything else is left to the real
table's server defaults, so a column hamgam does not write may be missing or differ on a site. Before
anything is written the reflected tables are checked: a table lacking a column hamgam writes, or with a
NOT NULL column without a default that hamgam does not write, is refused with
:class:`~hamgam.tadbir.write_errors.TadbirSchemaMismatch` naming table and column. Column names are
matched without regard to case (SQL Server's catalogs usually compare them that way).

Text: on SQL Server a CHAR/VARCHAR column (not NCHAR/NVARCHAR, and not under a ``_UTF8`` collation) keeps
its collation's code page — 1256 under the Arabic collations — which has neither Persian digits nor ی.
Such columns get the text the way the Tadbir desktop client writes it (Saman digits, Arabic kaf and yeh:
:func:`~hamgam.transform.text.to_tadbir_legacy_text`); NVARCHAR columns, and every column on SQLite and
PostgreSQL (Unicode storage), keep Persian text as it is. That the desktop client stores Saman text in
such columns is an assumption not yet observed on a real Tadbir: ``reverse.tadbir_text`` overrides the
choice (``auto`` by column type, ``unicode`` never encode, ``legacy`` always encode the display-text
columns of :data:`TEXT`). E-mail addresses and account codes are never encoded.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from hamgam.tadbir import schema
from hamgam.tadbir.write_errors import TadbirSchemaMismatch
from hamgam.transform.text import to_tadbir_legacy_text

TextMode = Literal["auto", "unicode", "legacy"]

#: The ``__Customer__`` columns an identity from the CRM maps to (``reverse.identities.tadbir_values``).
CUSTOMER_FIELDS = frozenset({"Name", "RegisterCode", "EcCode", "PhoneNo", "MobileNo", "FaxNo", "Email", "Address",
                             "PostalCode", "Province", "City", "CDesc", "SubscriptionNo", "Type", "LRes"})

#: Every column the writer sets, per table.
WRITTEN: Mapping[str, frozenset[str]] = {
    schema.customer.name: CUSTOMER_FIELDS | {"Id", "FPId", "FAccId", "AccId", "EDate", "ETime", "Active",
                                             "MashmoolMaliat"},
    schema.detail_acc.name: frozenset({"Id", "FPId", "Name", "AccLevel", "AccDesc", *(f"T{i}" for i in range(1, 9))}),
    schema.sp_factor.name: frozenset({"Id", "FPId", "FactorNo", "FactorType", "Committed", "Cancelled", "SPDate",
                                      "CustomerId", "CustomerName", "CustomerPhoneNo", "CustomerEcCode",
                                      "CustomerAddress", "Total", "Discount", "Expense", "SPDesc", "BrokerId",
                                      "EDate", "ETime", "TRS"}),
    schema.sp_article.name: frozenset({"Id", "SPId", "FPId", "MerchandiseId", "Amount", "StockRoomId", "UnitId",
                                       "UnitPrice", "Remainder", "T1", "T2", "SPADesc", "NetPrice"}),
}

#: The written columns holding display text (names, addresses, descriptions, codes typed by users).
TEXT: Mapping[str, frozenset[str]] = {
    schema.customer.name: frozenset({"Name", "PhoneNo", "FaxNo", "MobileNo", "EcCode", "Address", "CDesc",
                                     "Province", "City", "PostalCode", "RegisterCode", "SubscriptionNo"}),
    schema.detail_acc.name: frozenset({"Name", "AccDesc"}),
    schema.sp_factor.name: frozenset({"SPDesc", "CustomerName", "CustomerPhoneNo", "CustomerEcCode",
                                      "CustomerAddress"}),
    schema.sp_article.name: frozenset({"SPADesc"}),
}

_SPELLING = {c.name.lower(): c.name for t in schema.metadata.tables.values() for c in t.columns}


def _hamgam_key(inspector: Any, table: sa.Table, column_info: dict[str, Any]) -> None:
    """Address a reflected column by hamgam's spelling of its name, whatever case the site uses."""
    column_info["key"] = _SPELLING.get(column_info["name"].lower(), column_info["name"])


def stores_unicode(column: sa.Column, dialect: str) -> bool:
    """Does the database keep any Unicode text written to ``column`` (else: its collation's code page)?"""
    if dialect != "mssql" or not isinstance(column.type, sa.String):
        return True
    if isinstance(column.type, (sa.Unicode, sa.UnicodeText)):  # NVARCHAR, NCHAR, NTEXT
        return True
    return (column.type.collation or "").upper().endswith("_UTF8")  # SQL Server 2019+ UTF-8 collations


@dataclass(frozen=True)
class WriteTable:
    """One reflected table and which of its written columns take Tadbir's legacy text encoding."""

    table: sa.Table
    legacy_text: frozenset[str]

    @classmethod
    def of(cls, table: sa.Table, dialect: str, mode: TextMode) -> WriteTable:
        text = TEXT[table.name] & set(table.c.keys())
        if mode == "unicode":
            return cls(table, frozenset())
        if mode == "legacy":
            return cls(table, text)
        return cls(table, frozenset(n for n in text if not stores_unicode(table.c[n], dialect)))

    @property
    def c(self) -> Any:
        return self.table.c

    def row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with the text of legacy-encoded columns written the way Tadbir stores it."""
        return {k: to_tadbir_legacy_text(v) if k in self.legacy_text and isinstance(v, str) else v
                for k, v in values.items()}


@dataclass(frozen=True)
class WriteTables:
    customer: WriteTable
    detail_acc: WriteTable
    sp_factor: WriteTable
    sp_article: WriteTable


_reflected: weakref.WeakKeyDictionary[sa.Engine, dict[str, sa.Table]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def schema_problems(tables: Mapping[str, sa.Table]) -> list[str]:
    """What keeps the writer from inserting into these (reflected) tables, one line each."""
    problems = []
    for name, written in WRITTEN.items():
        table = tables[name]
        problems += [f"table {name} has no column {c}, which hamgam writes"
                     for c in sorted(written - set(table.c.keys()))]
        problems += [f"table {name} requires column {c.name} (NOT NULL, no default), which hamgam does not write"
                     for c in table.columns if c.key not in written and not c.nullable and c.server_default is None
                     and c.identity is None and c.computed is None]
    return problems


def reflect(engine: sa.Engine, *, refresh: bool = False) -> dict[str, sa.Table]:
    """The written tables as ``engine``'s database has them (reflected once per engine and process, again
    when ``refresh``: each reverse run starts so); raises TadbirSchemaMismatch when one cannot take
    hamgam's writes."""
    with _lock:
        cached = None if refresh else _reflected.get(engine)
    if cached is not None:
        return cached
    metadata = sa.MetaData()
    try:
        with engine.connect() as conn:
            tables = {name: sa.Table(name, metadata, autoload_with=conn, listeners=[("column_reflect", _hamgam_key)])
                      for name in WRITTEN}
    except sa.exc.NoSuchTableError as exc:
        raise TadbirSchemaMismatch(f"Tadbir has no table {exc}, which hamgam writes into") from None
    problems = schema_problems(tables)
    if problems:
        raise TadbirSchemaMismatch(f"Tadbir database {engine.url.database} cannot take hamgam's writes: "
                                   + "; ".join(problems))
    with _lock:
        _reflected[engine] = tables
    return tables


def write_tables(engine: sa.Engine, mode: TextMode = "auto") -> WriteTables:
    tables = reflect(engine)
    dialect = engine.dialect.name
    return WriteTables(*(WriteTable.of(tables[t.name], dialect, mode)
                         for t in (schema.customer, schema.detail_acc, schema.sp_factor, schema.sp_article)))
