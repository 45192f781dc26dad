"""Writing into Tadbir (the reverse flow): one transaction per record, ids and numbers allocated under a lock.

Ids and document numbers are ``MAX + 1`` read under a lock held to commit (``allocation``), so a writer
does not collide with another one — or with Tadbir's own users on SQL Server. A transaction that still
loses a race (a duplicate key, a lock wait that ran out, a deadlock) rolls back whole and is tried again
with fresh values; any other refusal (NOT NULL, foreign key, wrong type) raises ``WriteRefused`` at once,
naming the record and the column (``write_errors``). Statements are built on the real, reflected tables
and name only the columns hamgam sets; display text is encoded for each column's storage
(``write_tables``). Entry stamps (``EDate``/``ETime``) are Tehran wall-clock time, as Tadbir's clients
write them, whatever the worker's time zone.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from hamgam.tadbir.allocation import lock_period, locked, next_value
from hamgam.tadbir.clock import tadbir_now, utc_now
from hamgam.tadbir.write_errors import (
    NumberTaken,
    TadbirSchemaMismatch,
    WriteConflict,
    WriteRefused,
    is_contention,
    refusal,
)
from hamgam.tadbir.write_tables import CUSTOMER_FIELDS, TextMode, write_tables

__all__ = ["NumberTaken", "QuoteHeader", "QuoteLine", "TadbirSchemaMismatch", "TadbirWriter", "WriteConflict",
           "WriteRefused"]

log = logging.getLogger(__name__)
T = TypeVar("T")
QUOTE = 4


@dataclass(frozen=True)
class QuoteHeader:
    period_id: int
    date: datetime
    customer_id: int
    customer_name: str
    customer_phone: str
    customer_ec_code: str
    customer_address: str
    total: int
    discount: int
    additions: int
    description: str
    broker_id: int = 0


@dataclass(frozen=True)
class QuoteLine:
    merchandise_id: int
    unit_id: int
    stock_room_id: int
    quantity: Any  # Decimal
    unit_price: int
    discount: int
    vat: int
    toll: int
    description: str


class TadbirWriter:
    """Writes into one Tadbir database. Reflects its tables when it starts (once per engine and process)
    and raises TadbirSchemaMismatch there when they cannot take hamgam's writes — before anything is written.

    ``text``: how display text is written (``reverse.tadbir_text``: ``auto`` by each column's type);
    ``clock``: the current instant (aware), for the entry stamps."""

    def __init__(self, engine: sa.Engine, *, max_attempts: int = 8, text: TextMode = "auto",
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        self.tables = write_tables(engine, text)
        self.clock = clock

    def _stamp(self) -> datetime:
        return tadbir_now(now=self.clock())

    def _transaction(self, work: Callable[[sa.Connection], T], what: str) -> T:
        """Run ``work`` in one transaction; when it lost a race with another writer run it again."""
        dialect = self.engine.dialect.name
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as exc:
                if not is_contention(exc, dialect):
                    # from None: the driver's message may carry the row's values (see WriteRefused)
                    raise refusal(exc, dialect, what) from None
                if attempt == self.max_attempts:
                    raise WriteConflict(f"{what}: gave up after {attempt} attempts, each lost to another "
                                        f"writer ({type(exc.orig).__name__})") from None
                log.info("%s: lost to another writer (%s); trying again", what, type(exc.orig).__name__)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- customers --------------------------------------------------------------------------------

    def insert_customer(self, period_id: int, values: dict[str, Any], *, detail_chain: list[str],
                        receivables_account: str) -> int:
        """A new customer and its detail account under ``detail_chain``; returns the customer Id."""
        c, d = self.tables.customer, self.tables.detail_acc
        unknown = set(values) - CUSTOMER_FIELDS
        if unknown:
            raise ValueError(f"customer {values.get('SubscriptionNo')}: hamgam does not write {sorted(unknown)}")

        def work(conn: sa.Connection) -> int:
            lock_period(conn, c.table, period_id)
            lock_period(conn, d.table, period_id)
            customer_id = next_value(conn, c.table, "Id", c.c.FPId == period_id)
            detail_id = next_value(conn, d.table, "Id", d.c.FPId == period_id)
            level = len(detail_chain) + 1
            prefix = [d.c[f"T{i}"] == code for i, code in enumerate(detail_chain, start=1)]
            siblings_query = sa.select(d.c[f"T{level}"]).where(d.c.FPId == period_id, d.c.AccLevel == 3 + level,
                                                               *prefix)
            siblings = [str(s) for s in conn.execute(locked(siblings_query, d.table)).scalars()
                        if s and str(s).isdigit()]
            own = max((int(s) for s in siblings), default=0) + 1
            width = max((len(s) for s in siblings), default=1)  # codes keep their siblings' zero padding
            segments = [*detail_chain, str(own).zfill(width)] + [""] * (8 - level)
            conn.execute(d.table.insert().values(d.row(dict(
                Id=detail_id, FPId=period_id, Name=values.get("Name", ""), AccLevel=3 + level,
                **{f"T{i}": seg for i, seg in enumerate(segments, start=1)}, AccDesc="from Payamgostar (hamgam)"))))
            now = self._stamp()
            conn.execute(c.table.insert().values(c.row(dict(
                Id=customer_id, FPId=period_id, FAccId=detail_id, AccId=receivables_account, EDate=now, ETime=now,
                Active=1, MashmoolMaliat=1, **values))))
            return customer_id

        return self._transaction(work, f"customer {values.get('SubscriptionNo')}")

    def update_customer(self, period_id: int, customer_id: int, values: dict[str, Any]) -> None:
        c, d = self.tables.customer, self.tables.detail_acc

        def work(conn: sa.Connection) -> None:
            conn.execute(c.table.update().where(c.c.Id == customer_id, c.c.FPId == period_id).values(c.row(values)))
            if "Name" in values:
                detail = conn.execute(sa.select(c.c.FAccId).where(c.c.Id == customer_id, c.c.FPId == period_id)
                                      ).scalar_one_or_none()
                if detail:
                    conn.execute(d.table.update().where(d.c.Id == detail, d.c.FPId == period_id)
                                 .values(d.row({"Name": values["Name"]})))

        self._transaction(work, f"customer Id {customer_id}")

    # -- quotes -----------------------------------------------------------------------------------

    def write_quote(self, header: QuoteHeader, lines: list[QuoteLine], *, number: int | None,
                    replace_id: int | None = None) -> tuple[int, int]:
        """Insert a quote (``number`` None: the next number of its fiscal period), or replace the header
        and lines of quote ``replace_id``; all in one transaction. Returns (Id, FactorNo)."""
        f, a = self.tables.sp_factor, self.tables.sp_article
        period = header.period_id

        def work(conn: sa.Connection) -> tuple[int, int]:
            lock_period(conn, f.table, period)
            lock_period(conn, a.table, period)
            now = self._stamp()
            values = f.row(dict(
                SPDate=header.date, CustomerId=header.customer_id, CustomerName=header.customer_name,
                CustomerPhoneNo=header.customer_phone, CustomerEcCode=header.customer_ec_code,
                CustomerAddress=header.customer_address, Total=header.total, Discount=header.discount,
                Expense=header.additions, SPDesc=header.description, BrokerId=header.broker_id,
                EDate=now, ETime=now, TRS=period))
            if replace_id is not None:
                sp_id = replace_id
                factor_no = conn.execute(sa.select(f.c.FactorNo).where(f.c.Id == sp_id, f.c.FPId == period)
                                         ).scalar_one()
                conn.execute(f.table.update().where(f.c.Id == sp_id, f.c.FPId == period).values(values))
                conn.execute(a.table.delete().where(a.c.SPId == sp_id, a.c.FPId == period))
            else:
                sp_id = next_value(conn, f.table, "Id", f.c.FPId == period)
                if number is None:
                    factor_no = next_value(conn, f.table, "FactorNo", f.c.FPId == period, f.c.FactorType == QUOTE)
                else:
                    factor_no = number
                    taken_query = sa.select(f.c.Id).where(f.c.FPId == period, f.c.FactorType == QUOTE,
                                                          f.c.FactorNo == number)
                    if conn.execute(locked(taken_query, f.table)).first() is not None:
                        raise NumberTaken(f"quote number {number} already exists in this fiscal period")
                conn.execute(f.table.insert().values(Id=sp_id, FPId=period, FactorNo=factor_no, FactorType=QUOTE,
                                                     Committed=0, Cancelled=0, **values))
            first_line = next_value(conn, a.table, "Id", a.c.FPId == period)
            conn.execute(a.table.insert(), [a.row(dict(
                Id=first_line + n, SPId=sp_id, FPId=period, MerchandiseId=li.merchandise_id, Amount=li.quantity,
                StockRoomId=li.stock_room_id, UnitId=li.unit_id, UnitPrice=li.unit_price, Remainder=li.discount,
                T1=li.vat, T2=li.toll, SPADesc=li.description,
                NetPrice=int((li.quantity * li.unit_price).to_integral_value()) - li.discount + li.vat + li.toll))
                for n, li in enumerate(lines)])
            return sp_id, factor_no

        return self._transaction(work, f"quote {number if number is not None else '(next number)'} "
                                       f"of fiscal period {period}")
