"""Build the demo: generate one company's rows in memory, then bulk-insert them.

Each table family draws from its own seeded random stream (:mod:`tadbir_demo.seeding`), so the
same (seed, scale, company, fiscal years) always yields the same rows, and families added later
(invoices, receipts) do not disturb the existing ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hamgam.tadbir import schema

from . import (
    accounts,
    brokers,
    customers,
    dirt,
    documents,
    history,
    products,
    purchases,
    stock,
    treasury,
    vouchers,
)
from .fiscal import make_periods, period_rows
from .seeding import family_rng

DEFAULT_SEED = 1405
DEFAULT_COMPANIES = (100, 200)
DEFAULT_FISCAL_YEARS = (1403, 1404)


def generate_company(
    company_code: int,
    *,
    seed: int = DEFAULT_SEED,
    scale: int = 1,
    fiscal_years: Iterable[int] = DEFAULT_FISCAL_YEARS,
) -> tuple[dict[str, list[dict]], dict]:
    """All rows of one company's Tadbir database (table name -> rows) and its summary."""
    code = int(company_code)
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale!r}")
    scale = int(scale)
    periods = make_periods(fiscal_years)
    if not periods:
        raise ValueError("at least one fiscal year is needed")
    rows: dict[str, list[dict]] = {name: [] for name in schema.TABLE_NAMES}
    rows[schema.fiscal_period.name] = period_rows(periods)

    # Customers and their detail accounts
    masters = customers.generate_customers(
        family_rng(seed, code, "customers"), customers.CUSTOMERS_PER_SCALE * scale, periods[0]
    )
    dirty_cases, dirty_ids = dirt.apply_dirt(family_rng(seed, code, "dirt"), masters)
    plan, history_cases = history.plan_history(family_rng(seed, code, "history"), masters, periods, dirty_ids)
    customer_rows, customer_details = customers.customer_rows(masters, periods, plan)
    broker_rows, broker_details = brokers.broker_rows(family_rng(seed, code, "brokers"), periods)
    rows[schema.customer.name] = customer_rows
    rows[schema.broker.name] = broker_rows
    rows[schema.detail_acc.name] = [
        *(r for fp in periods for r in accounts.group_rows(fp)),
        *broker_details,
        *customer_details,
    ]

    # Products, prices, tax, warehouses, stock
    catalog = products.generate_catalog(family_rng(seed, code, "products"), scale)
    prices = products.price_list(family_rng(seed, code, "prices"), catalog, periods)
    rows[schema.unit.name] = products.unit_rows(periods)
    rows[schema.merchandise.name] = products.merchandise_rows(catalog, periods, prices)
    rows[schema.sales_price.name] = products.sales_price_rows(catalog, periods, prices)
    rows[schema.merch_tax.name] = products.merch_tax_rows(catalog, periods)
    rows[schema.stock_room.name] = stock.stock_room_rows(family_rng(seed, code, "stock_rooms"), periods)
    rows[schema.merch_stock_qty.name] = stock.stock_qty_rows(family_rng(seed, code, "stock"), catalog, periods)

    # Quotes, sales invoices, sales returns; receipts and payments
    data = [documents.period_data(rows, fp, dirty_ids) for fp in periods]
    missing_base = max(r["Id"] for r in customer_rows)
    docs = documents.generate_documents(
        family_rng(seed, code, "documents"),
        data,
        scale=scale,
        invalid_customer_ids=_ids_by_case(dirty_cases).get(documents.INVALID_CUSTOMER_CASE, []),
        missing_customer_base=missing_base,
    )
    entries = treasury.generate_treasury(
        family_rng(seed, code, "treasury"), data, docs, scale=scale, missing_customer_base=missing_base
    )
    # purchase invoices and returns: their own stream, numbered after the sales documents (which they leave as
    # they were), and no receipt or payment names them
    docs += purchases.generate_purchases(
        family_rng(seed, code, "purchases"), data, docs, scale=scale, missing_customer_base=missing_base
    )
    (rows[schema.sp_factor.name], rows[schema.sp_article.name], rows[schema.sp_tax.name]) = (
        documents.document_rows(docs)
    )
    rows[schema.pay_receive.name] = treasury.pay_receive_rows(entries)
    rows[schema.voucher.name], rows[schema.article.name] = vouchers.voucher_rows(rows)

    summary = {
        "company_code": code,
        "fiscal_periods": [
            {"Id": p.id, "year": p.year, "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in periods
        ],
        "counts": {name: len(table_rows) for name, table_rows in rows.items()},
        "dirty_cases": dirty_cases,
        "dirty_customer_ids": _ids_by_case(dirty_cases),
        "history_cases": history_cases,
        "documents": _document_counts(periods, docs, entries),
        "document_cases": _document_cases(docs, entries),
    }
    return rows, summary


def _document_counts(periods, docs: list, entries: list) -> dict[int, dict]:
    """Per FPId: the fiscal year and the number of documents of each kind."""
    out: dict[int, dict] = {}
    for fp in periods:
        counts = {"year": fp.year}
        counts.update(dict.fromkeys(documents.KIND_NAMES.values(), 0))
        counts.update(dict.fromkeys(treasury.KIND_NAMES.values(), 0))
        out[fp.id] = counts
    for item in (*docs, *entries):
        out[item.fp.id][item.kind_name] += 1
    return out


def _document_cases(docs: list, entries: list) -> list[dict]:
    """Every listed document/treasury case: where to find it (FPId, type, number, Id) and why."""
    cases = []
    for doc in docs:
        for case, note in doc.cases:
            cases.append(
                {"case": case, "table": schema.sp_factor.name, "fpid": doc.fp.id, "kind": doc.kind_name,
                 "factor_type": doc.factor_type, "number": doc.number, "id": doc.id,
                 "customer_id": doc.customer_id, "note": note}
            )
    for entry in entries:
        for case, note in entry.cases:
            cases.append(
                {"case": case, "table": schema.pay_receive.name, "fpid": entry.fp.id, "kind": entry.kind_name,
                 "type": entry.type, "number": entry.number, "id": entry.id,
                 "customer_id": entry.customer_id, "note": note}
            )
    return cases


def _ids_by_case(cases: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for case in cases:
        out.setdefault(case["case"], []).extend(case["customer_ids"])
    return {kind: sorted(ids) for kind, ids in out.items()}


def insert_rows(engine: Engine, rows: dict[str, list[dict]]) -> None:
    """Create missing tables, then bulk-insert (executemany) every table in one transaction."""
    schema.create_all(engine)
    with engine.begin() as conn:
        for table in schema.metadata.sorted_tables:
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])


def fill_company(
    engine: Engine,
    company_code: int,
    *,
    seed: int = DEFAULT_SEED,
    scale: int = 1,
    fiscal_years: Iterable[int] = DEFAULT_FISCAL_YEARS,
) -> dict:
    """Fill one company's (empty) Tadbir tables on ``engine``; returns the company summary."""
    rows, summary = generate_company(company_code, seed=seed, scale=scale, fiscal_years=fiscal_years)
    insert_rows(engine, rows)
    return summary


def database_path(out_dir: str | Path, company_code: int) -> Path:
    return Path(out_dir) / f"tadbir_{int(company_code)}.sqlite"


def build_demo(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    scale: int = 1,
    companies: Iterable[int] = DEFAULT_COMPANIES,
    fiscal_years: Iterable[int] = DEFAULT_FISCAL_YEARS,
) -> dict:
    """Write ``out_dir/tadbir_<code>.sqlite`` for every company (overwriting); return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    years = sorted(set(int(y) for y in fiscal_years))
    result: dict = {"seed": seed, "scale": scale, "fiscal_years": years, "companies": {}}
    for code in companies:
        path = database_path(out, code)
        for stale in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
        try:
            summary = fill_company(engine, code, seed=seed, scale=scale, fiscal_years=years)
        finally:
            engine.dispose()
        result["companies"][int(code)] = {"database": str(path), **summary}
    return result
