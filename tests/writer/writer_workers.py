"""Writers that run in their own processes (spawn) for the concurrency tests of the Tadbir writer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from hamgam.tadbir.writer import QuoteHeader, QuoteLine, TadbirWriter


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
