"""The writer tests' helpers: writers that run in their own processes (spawn) for the concurrency tests, what an
engine executes, and Tadbir databases whose tables differ from hamgam's reference schema as a site's may."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from hamgam.tadbir import schema
from hamgam.tadbir.writer import QuoteHeader, QuoteLine, TadbirWriter
from tadbir_demo import fill_company


def header(period_id: int, customer_id: int = 1) -> QuoteHeader:
    return QuoteHeader(period_id=period_id, date=datetime(2025, 6, 1), customer_id=customer_id,
                       customer_name="مشتری آزمایشی", customer_phone="", customer_ec_code="", customer_address="",
                       total=2_000_000, discount=0, additions=0, description="")


def lines(count: int = 2) -> list[QuoteLine]:
    return [QuoteLine(merchandise_id=4 + n, unit_id=1, stock_room_id=1, quantity=Decimal(1), unit_price=1_000_000,
                      discount=0, vat=0, toll=0, description=f"line {n}") for n in range(count)]


def write_quotes(url: str, period_id: int, count: int, barrier) -> list[tuple[int, int]]:
    engine = sa.create_engine(url)
    writer = TadbirWriter(engine, max_attempts=50)
    barrier.wait(timeout=60)
    written = [writer.write_quote(header(period_id), lines(), number=None) for _ in range(count)]
    engine.dispose()
    return written


def write_customers(url: str, period_id: int, prefix: str, count: int, barrier) -> list[int]:
    engine = sa.create_engine(url)
    writer = TadbirWriter(engine, max_attempts=50)
    barrier.wait(timeout=60)
    ids = [writer.insert_customer(period_id, {"Name": f"مشتری {prefix}{n}", "SubscriptionNo": f"{prefix}{n}"},
                                  detail_chain=["1"], receivables_account="1103") for n in range(count)]
    engine.dispose()
    return ids


@contextmanager
def executed(engine: sa.Engine) -> Iterator[list[tuple[Any, str]]]:
    """Every statement ``engine`` runs meanwhile: (the statement object, its SQL as sent to the driver)."""
    seen: list[tuple[Any, str]] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append((context.compiled.statement if context.compiled is not None else None, statement))

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def build_tadbir(url: str, change: Callable[[sa.MetaData], None], *, fill: bool = True) -> sa.Engine:
    """A Tadbir whose tables differ from hamgam's reference schema by ``change`` (made to a copy of it), filled
    with the demo company 100 when ``fill``: a site's own variant of the legacy tables."""
    variant = sa.MetaData(naming_convention=schema.metadata.naming_convention)
    for table in schema.metadata.sorted_tables:
        table.to_metadata(variant)
    change(variant)
    engine = sa.create_engine(url)
    variant.create_all(engine)
    if fill:
        fill_company(engine, 100)
    return engine


def drop_column(engine: sa.Engine, table: str, column: str) -> None:
    """A site's table without one column (SQLite 3.35+ and PostgreSQL both drop columns)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
