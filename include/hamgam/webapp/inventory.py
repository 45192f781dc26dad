"""The CRM's live stock read: quantity per product per warehouse, from Tadbir, at the time of asking.

The vendor's synchronizer answers ``GET {sync}/api/inventory/{companyCode}`` (vendor-sync-spec, "Live
reads the CRM makes of Tadbir"); so does hamgam. Stock is read from the company's current fiscal period
(the period that contains today in Tehran; after the last period ends, the last one that has started),
from hamgam's reference tables ``__MerchStockQty__`` joined with ``__Merchandise__`` (group nodes are
not products) and ``__StockRoom__``. The stock table is a hamgam assumption: a company's Tadbir may name
it and its columns its own way (``companies[].assumed_tables.merch_stock_qty``); where a table or column
is not there the answer is 503, naming it and the setting. Product codes are the CRM's (``products.code_format``, e.g.
``100-1001``), so a line of a quote in the CRM finds its product.

Without a company: the default company's stock; with no default company, the sum over the enabled
companies, per product code and warehouse code as the CRM knows them. With the default code format
(``{company}-{code}``) every company's products stay apart; a format without ``{company}`` adds up
the same product's stock across companies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from hamgam.config import CompanyConfig, HamgamConfig
from hamgam.settings import MerchStockQtyTable
from hamgam.tadbir import schema
from hamgam.tadbir.clock import TEHRAN
from hamgam.tadbir.reader import FiscalPeriod, fiscal_periods
from hamgam.tadbir.source_check import STOCK, MissingSource, find_missing, tables_in
from hamgam.transform.text import normalize_code, normalize_name


class InventoryError(Exception):
    """The stock cannot be read; ``status`` is the HTTP status to answer with, ``details`` what the answer's
    JSON carries besides the message."""

    def __init__(self, message: str, status: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details or {}


@dataclass(frozen=True)
class StockLine:
    product_code: str
    product_name: str
    warehouse_code: str
    warehouse_name: str
    quantity: Decimal

    def as_json(self) -> dict[str, Any]:
        qty = self.quantity
        number: int | float = int(qty) if qty == qty.to_integral_value() else float(qty)
        return {"productCode": self.product_code, "productName": self.product_name,
                "warehouseCode": self.warehouse_code, "warehouseName": self.warehouse_name, "quantity": number}


def today_in_tehran() -> date:
    return datetime.now(TEHRAN).date()


def current_period(periods: list[FiscalPeriod], today: date, fiscal_year: int | None = None) -> FiscalPeriod | None:
    """The period of ``fiscal_year`` (Jalali), else the one containing today, else the latest that has started."""
    if fiscal_year is not None:
        return next((p for p in periods if p.year == fiscal_year), None)
    for period in periods:
        if period.start <= today <= period.end:
            return period
    started = [p for p in periods if p.start <= today]
    latest = started or periods
    return latest[-1] if latest else None


def _stock_query(period_id: int, names: MerchStockQtyTable) -> sa.Select:
    """The stock of period ``period_id``, from the stock table as ``names`` calls it."""
    columns = names.columns.model_dump()
    t, m, s = schema.named_as(schema.merch_stock_qty, names.table, columns), schema.merchandise, schema.stock_room

    def q(name: str) -> sa.ColumnClause:
        return t.c[columns[name]]

    return (sa.select(m.c.Code.label("product_code"), m.c.Name.label("product_name"),
                      s.c.Code.label("warehouse_code"), s.c.Name.label("warehouse_name"), q("Qty").label("qty"))
            .select_from(t.join(m, (m.c.Id == q("MerchId")) & (m.c.FPId == q("FPId")))
                         .join(s, (s.c.Id == q("StockRoomId")) & (s.c.FPId == q("FPId"))))
            .where(q("FPId") == period_id, sa.func.coalesce(m.c.IsGroup, 0) != 1)
            .order_by(m.c.Code, s.c.Code))


def missing_stock_source(engine: sa.Engine, config: HamgamConfig, company: int) -> MissingSource | None:
    """A table or column the stock read needs that company ``company``'s Tadbir (``engine``) lacks, naming the
    setting (the stock table is a hamgam assumption); None when all are there. ``str()`` of it is the message."""
    query = _stock_query(0, config.company(company).assumed_tables.merch_stock_qty)
    return find_missing(engine, tables_in(query), config, company, STOCK)


def company_stock(config: HamgamConfig, company: CompanyConfig, engine: sa.Engine, *, today: date,
                  fiscal_year: int | None = None) -> list[StockLine]:
    """Every product's quantity per warehouse in the company's current fiscal period."""
    from hamgam.entities.products import crm_product_code

    period = current_period(fiscal_periods(engine), today, fiscal_year)
    if period is None:
        which = f"fiscal year {fiscal_year}" if fiscal_year else "any fiscal period"
        raise InventoryError(f"company {company.code}: Tadbir has no {which}", 404)
    # asking again will not help until the settings say where the stock is: 503 naming the table and setting
    missing = missing_stock_source(engine, config, company.code)
    if missing is not None:
        raise InventoryError(str(missing), 503, missing.as_json())
    query = _stock_query(period.id, company.assumed_tables.merch_stock_qty)
    lines = []
    with engine.connect() as conn:
        for row in conn.execute(query):
            code = normalize_code(row.product_code)
            if not code:  # a product without a code is not in the CRM
                continue
            lines.append(StockLine(crm_product_code(config, company.code, code), normalize_name(row.product_name),
                                   normalize_code(row.warehouse_code), normalize_name(row.warehouse_name),
                                   Decimal(str(row.qty or 0))))
    return lines


def inventory(config: HamgamConfig, company_code: int | None, *, engine_for: Callable[[str], sa.Engine],
              exclude_warehouses: Iterable[str] = (), fiscal_year: int | None = None,
              today: date | None = None) -> list[dict[str, Any]]:
    """The JSON answer of the inventory endpoint: one entry per product code and warehouse code."""
    if company_code is not None:
        if company_code not in {c.code for c in config.companies}:
            raise InventoryError(f"company {company_code} is not configured "
                                 f"(known: {', '.join(str(c.code) for c in config.companies)})", 404)
        companies = [config.company(company_code)]
    else:
        default = [c for c in config.companies if c.default]
        companies = default or [c for c in config.companies if c.enabled]
    excluded = {normalize_code(code) for code in exclude_warehouses} - {""}
    today = today or today_in_tehran()
    totals: dict[tuple[str, str], StockLine] = {}
    for company in companies:
        try:
            engine = engine_for(company.tadbir_conn_id)
            lines = company_stock(config, company, engine, today=today, fiscal_year=fiscal_year)
        except InventoryError:
            raise
        except Exception as exc:
            raise InventoryError(f"company {company.code}: Tadbir could not be read "
                                 f"({type(exc).__name__})", 502) from exc
        for line in lines:
            if line.warehouse_code in excluded:
                continue
            key = (line.product_code, line.warehouse_code)
            known = totals.get(key)
            totals[key] = line if known is None else StockLine(
                known.product_code, known.product_name, known.warehouse_code, known.warehouse_name,
                known.quantity + line.quantity)
    return [totals[key].as_json() for key in sorted(totals)]
