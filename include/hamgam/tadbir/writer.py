"""Writing into Tadbir (the reverse flow): one transaction per record, ids and numbers allocated safely.

Legacy Tadbir tables have no IDENTITY columns: ids are ``MAX(Id) + 1`` per fiscal period, document
numbers ``MAX(FactorNo) + 1`` per (fiscal period, document type). Two writers computing the same next
value collide on the primary key or on the (FPId, FactorType, FactorNo) unique constraint; the loser's
transaction rolls back whole and is tried again with fresh values, so nothing is half-written and no
number is used twice — on SQLite, PostgreSQL and SQL Server alike, without vendor-specific locking.
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
from sqlalchemy.exc import IntegrityError, OperationalError

from hamgam.tadbir import schema

log = logging.getLogger(__name__)
T = TypeVar("T")
QUOTE = 4


class WriteConflict(RuntimeError):
    """Allocation kept colliding with other writers (or a fixed number is taken)."""


class NumberTaken(WriteConflict):
    """A document number chosen by the CRM (floating coding off) already exists in Tadbir."""


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


def _next(conn: sa.Connection, column: sa.Column, *where: Any) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(column), 0)).where(*where)).scalar_one()) + 1


class TadbirWriter:
    def __init__(self, engine: sa.Engine, *, max_attempts: int = 8) -> None:
        self.engine = engine
        self.max_attempts = max_attempts

    def _transaction(self, work: Callable[[sa.Connection], T], what: str) -> T:
        """Run ``work`` in one transaction; on a unique-key collision (another writer won) run it again."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except NumberTaken:
                raise
            except (IntegrityError, OperationalError) as exc:  # OperationalError: SQLite "database is locked"
                if attempt == self.max_attempts:
                    raise WriteConflict(f"{what}: gave up after {attempt} attempts: {exc.orig}") from exc
                log.info("%s: collided with another writer (%s); trying again", what, type(exc.orig).__name__)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- customers --------------------------------------------------------------------------------

    def insert_customer(self, period_id: int, values: dict[str, Any], *, detail_chain: list[str],
                        receivables_account: str) -> int:
        """A new customer and its detail account under ``detail_chain``; returns the customer Id."""
        c, d = schema.customer, schema.detail_acc

        def work(conn: sa.Connection) -> int:
            customer_id = _next(conn, c.c.Id, c.c.FPId == period_id)
            detail_id = _next(conn, d.c.Id, d.c.FPId == period_id)
            level = len(detail_chain) + 1
            prefix = [d.c[f"T{i}"] == code for i, code in enumerate(detail_chain, start=1)]
            siblings = [str(s) for s in conn.execute(sa.select(d.c[f"T{level}"]).where(
                d.c.FPId == period_id, d.c.AccLevel == 3 + level, *prefix)).scalars() if s and str(s).isdigit()]
            own = max((int(s) for s in siblings), default=0) + 1
            width = max((len(s) for s in siblings), default=1)  # codes keep their siblings' zero padding
            segments = [*detail_chain, str(own).zfill(width)] + [""] * (8 - level)
            conn.execute(d.insert().values(
                Id=detail_id, FPId=period_id, Name=values.get("Name", ""), AccLevel=3 + level,
                **{f"T{i}": seg for i, seg in enumerate(segments, start=1)}, AccDesc="from Payamgostar (hamgam)"))
            now = datetime.now()
            conn.execute(c.insert().values(Id=customer_id, FPId=period_id, FAccId=detail_id,
                                           AccId=receivables_account, EDate=now, ETime=now, Active=1,
                                           MashmoolMaliat=1, **values))
            return customer_id

        return self._transaction(work, f"customer {values.get('SubscriptionNo')}")

    def update_customer(self, period_id: int, customer_id: int, values: dict[str, Any]) -> None:
        c, d = schema.customer, schema.detail_acc

        def work(conn: sa.Connection) -> None:
            conn.execute(c.update().where(c.c.Id == customer_id, c.c.FPId == period_id).values(**values))
            if "Name" in values:
                detail = conn.execute(sa.select(c.c.FAccId).where(c.c.Id == customer_id, c.c.FPId == period_id)
                                      ).scalar_one_or_none()
                if detail:
                    conn.execute(d.update().where(d.c.Id == detail, d.c.FPId == period_id).values(Name=values["Name"]))

        self._transaction(work, f"customer Id {customer_id}")

    # -- quotes -----------------------------------------------------------------------------------

    def write_quote(self, header: QuoteHeader, lines: list[QuoteLine], *, number: int | None,
                    replace_id: int | None = None) -> tuple[int, int]:
        """Insert a quote (``number`` None: the next number of its fiscal period), or replace the header
        and lines of quote ``replace_id``; all in one transaction. Returns (Id, FactorNo)."""
        f, a = schema.sp_factor, schema.sp_article
        period = header.period_id

        def work(conn: sa.Connection) -> tuple[int, int]:
            now = datetime.now()
            values = dict(SPDate=header.date, CustomerId=header.customer_id, CustomerName=header.customer_name,
                          CustomerPhoneNo=header.customer_phone, CustomerEcCode=header.customer_ec_code,
                          CustomerAddress=header.customer_address, Total=header.total, Discount=header.discount,
                          Expense=header.additions, SPDesc=header.description, BrokerId=header.broker_id,
                          EDate=now, ETime=now, TRS=period)
            if replace_id is not None:
                sp_id = replace_id
                factor_no = conn.execute(sa.select(f.c.FactorNo).where(f.c.Id == sp_id, f.c.FPId == period)
                                         ).scalar_one()
                conn.execute(f.update().where(f.c.Id == sp_id, f.c.FPId == period).values(**values))
                conn.execute(a.delete().where(a.c.SPId == sp_id, a.c.FPId == period))
            else:
                sp_id = _next(conn, f.c.Id, f.c.FPId == period)
                if number is None:
                    factor_no = _next(conn, f.c.FactorNo, f.c.FPId == period, f.c.FactorType == QUOTE)
                else:
                    factor_no = number
                    taken = conn.execute(sa.select(f.c.Id).where(f.c.FPId == period, f.c.FactorType == QUOTE,
                                                                 f.c.FactorNo == number)).first()
                    if taken is not None:
                        raise NumberTaken(f"quote number {number} already exists in this fiscal period")
                conn.execute(f.insert().values(Id=sp_id, FPId=period, FactorNo=factor_no, FactorType=QUOTE,
                                               Committed=0, Cancelled=0, **values))
            first_line = _next(conn, a.c.Id, a.c.FPId == period)
            conn.execute(a.insert(), [
                dict(Id=first_line + n, SPId=sp_id, FPId=period, MerchandiseId=li.merchandise_id,
                     Amount=li.quantity, StockRoomId=li.stock_room_id, UnitId=li.unit_id, UnitPrice=li.unit_price,
                     Remainder=li.discount, T1=li.vat, T2=li.toll, SPADesc=li.description,
                     NetPrice=int((li.quantity * li.unit_price).to_integral_value()) - li.discount + li.vat + li.toll)
                for n, li in enumerate(lines)])
            return sp_id, factor_no

        return self._transaction(work, f"quote of fiscal period {period}")
