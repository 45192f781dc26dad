"""A small Tadbir of the change-capture tests, on SQLite or on a fresh PostgreSQL database.

Two fiscal periods (1403: FPId 1, 1404: FPId 2), customers 501–503 and products 1001–1002 in both, one broker;
documents and lines are added, edited, moved and deleted by the helpers below.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml

from hamgam.config import parse_config
from hamgam.entities.base import SyncContext
from hamgam.tadbir import schema
from throwaway_pg import pg_database

PERIOD = {1403: 1, 1404: 2}
DAY = {1: datetime(2024, 6, 1), 2: datetime(2025, 6, 1)}
FACTOR_TYPE = {"quotes": 4, "sales_invoices": 1, "sales_returns": 3}


@contextmanager
def tadbir_engine(backend: str, tmp_path) -> Iterator[sa.Engine]:
    """An engine on a new Tadbir database of ``backend`` holding the base rows (see the module doc)."""
    if backend == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / f'tadbir-{uuid.uuid4().hex[:6]}.sqlite'}")
        try:
            fill_base(engine)
            yield engine
        finally:
            engine.dispose()
        return
    with pg_database("hamgam_tadbir_test") as url:
        engine = sa.create_engine(url)
        try:
            fill_base(engine)
            yield engine
        finally:
            engine.dispose()


def fill_base(engine: sa.Engine) -> None:
    schema.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert(), [
            {"Id": 1, "FPNo": 1403, "Name": "1403", "StartDate": datetime(2024, 3, 20),
             "EndDate": datetime(2025, 3, 20, 23, 59, 59)},
            {"Id": 2, "FPNo": 1404, "Name": "1404", "StartDate": datetime(2025, 3, 21),
             "EndDate": datetime(2026, 3, 20, 23, 59, 59)},
        ])
        for fp in (1, 2):
            conn.execute(schema.customer.insert(), [
                {"Id": 1, "FPId": fp, "SubscriptionNo": "501", "Name": "شرکت پارس", "RegisterCode": ""},
                {"Id": 2, "FPId": fp, "SubscriptionNo": "502", "Name": "شرکت البرز", "RegisterCode": ""},
                {"Id": 3, "FPId": fp, "SubscriptionNo": "503", "Name": "شرکت زاگرس", "RegisterCode": ""},
            ])
            conn.execute(schema.merchandise.insert(), [
                {"Id": 1, "FPId": fp, "Code": "1001", "Name": "پیچ گوشتی", "IsGroup": 0, "UnitPrice": 100_000},
                {"Id": 2, "FPId": fp, "Code": "1002", "Name": "آچار", "IsGroup": 0, "UnitPrice": 250_000},
            ])
            conn.execute(schema.broker.insert(), [{"Id": 1, "FPId": fp, "Name": "رضا فروشنده"}])


def config(**sync: Any):
    data = {"companies": [{"code": 100, "default": True}],
            "sync": {"chunk_size": 50, "min_batch_for_bad_share": 100_000, **sync}}
    return parse_config(yaml.safe_dump(data, allow_unicode=True))


def context(**sync: Any) -> SyncContext:
    cfg = config(**sync)
    return SyncContext(cfg, cfg.company(100))


def next_id(conn: sa.Connection, table: sa.Table, fp: int) -> int:
    return (conn.execute(sa.select(sa.func.max(table.c.Id)).where(table.c.FPId == fp)).scalar() or 0) + 1


def add_document(engine: sa.Engine, entity: str, number: int, *, year: int = 1404, lines: int = 1,
                 row_id: int | None = None, customer: int = 1, qty: int = 2, price: int = 100_000) -> int:
    fp = PERIOD[year]
    with engine.begin() as conn:
        f = schema.sp_factor
        taken = row_id is not None and conn.execute(sa.select(f.c.Id).where(f.c.Id == row_id, f.c.FPId == fp)).first()
        row_id = next_id(conn, f, fp) if row_id is None or taken else row_id
        conn.execute(schema.sp_factor.insert(), [{
            "Id": row_id, "FPId": fp, "FactorType": FACTOR_TYPE[entity], "FactorNo": number, "SPDate": DAY[fp],
            "CustomerId": customer, "Total": qty * price * lines, "Discount": 0}])
        first = next_id(conn, schema.sp_article, fp)
        conn.execute(schema.sp_article.insert(), [
            {"Id": first + i, "SPId": row_id, "FPId": fp, "MerchandiseId": 1, "Amount": qty, "UnitPrice": price,
             "Remainder": 0, "T1": 0, "T2": 0, "NetPrice": qty * price} for i in range(lines)])
    return row_id


def update(engine: sa.Engine, table: sa.Table, row_id: int, fp: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.Id == row_id, table.c.FPId == fp).values(**values))


def move_document(engine: sa.Engine, row_id: int, from_fp: int, to_fp: int, new_id: int | None = None) -> int:
    """A fiscal-period move of a header and its lines (copied, lines moved, old header removed: the schema's
    foreign key from lines to headers holds throughout). Returns the header's Id in ``to_fp``."""
    f, a = schema.sp_factor, schema.sp_article
    with engine.begin() as conn:
        header = dict(conn.execute(sa.select(f).where(f.c.Id == row_id, f.c.FPId == from_fp)).mappings().one())
        new_id = new_id or next_id(conn, f, to_fp)
        conn.execute(f.insert(), [{**header, "Id": new_id, "FPId": to_fp}])
        first = next_id(conn, a, to_fp)
        lines = conn.execute(sa.select(a.c.Id).where(a.c.SPId == row_id, a.c.FPId == from_fp)
                             .order_by(a.c.Id)).scalars().all()
        for i, line_id in enumerate(lines):
            conn.execute(a.update().where(a.c.Id == line_id, a.c.FPId == from_fp)
                         .values(Id=first + i, FPId=to_fp, SPId=new_id))
        conn.execute(f.delete().where(f.c.Id == row_id, f.c.FPId == from_fp))
    return new_id


def delete_document(engine: sa.Engine, row_id: int, fp: int) -> None:
    with engine.begin() as conn:
        conn.execute(schema.sp_article.delete().where(schema.sp_article.c.SPId == row_id,
                                                      schema.sp_article.c.FPId == fp))
        conn.execute(schema.sp_factor.delete().where(schema.sp_factor.c.Id == row_id, schema.sp_factor.c.FPId == fp))


# -- a fake Change Tracking: SQLite triggers fill a log that emulates CHANGETABLE's output -------------

CT_TABLES = ("__SPFactor__", "__SPArticle__", "__Customer__", "__Broker__", "__Merchandise__", "__StockRoom__",
             "__Unit__", "__PayReceive__", "__SalesPrice__", "__MerchTax__")


def install_fake_change_tracking(engine: sa.Engine) -> None:
    """``ct_log(version, tbl, Id, FPId, MerchId, Type, op)``: one row per changed row, as SQL Server's
    ``CHANGETABLE(CHANGES …)`` would report it (primary key and operation; the latest version wins)."""
    from hamgam.tadbir.changes import _key_columns

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ct_log (version INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, "
                             "k1, k2, k3, op TEXT)")
        conn.exec_driver_sql("CREATE TABLE ct_state (min_valid INTEGER)")
        conn.exec_driver_sql("INSERT INTO ct_state VALUES (0)")
        for table in CT_TABLES:
            keys = _key_columns(table)
            for op, event, row in (("I", "INSERT", "NEW"), ("U", "UPDATE", "NEW"), ("D", "DELETE", "OLD")):
                values = ", ".join(f'{row}."{k}"' for k in keys) + ", NULL" * (3 - len(keys))
                conn.exec_driver_sql(
                    f'CREATE TRIGGER "ct_{table}_{op}" AFTER {event} ON "{table}" BEGIN '
                    f"INSERT INTO ct_log (tbl, k1, k2, k3, op) VALUES ('{table}', {values}, '{op}'); END")
                if op == "U":  # a key change: the old key is gone (SQL Server reports a delete and an insert)
                    old = ", ".join(f'OLD."{k}"' for k in keys) + ", NULL" * (3 - len(keys))
                    moved = " OR ".join(f'OLD."{k}" IS NOT NEW."{k}"' for k in keys)
                    conn.exec_driver_sql(
                        f'CREATE TRIGGER "ct_{table}_UK" AFTER UPDATE ON "{table}" WHEN {moved} BEGIN '
                        f"INSERT INTO ct_log (tbl, k1, k2, k3, op) VALUES ('{table}', {old}, 'D'); END")


class FakeChangeTracking:
    """The ``ChangeTrackingProvider`` of the tests: reads ``ct_log`` (see ``install_fake_change_tracking``)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def current_version(self, conn: sa.Connection) -> int | None:
        return conn.exec_driver_sql("SELECT COALESCE(MAX(version), 0) FROM ct_log").scalar()

    def min_valid_version(self, conn: sa.Connection, table: str) -> int | None:
        return conn.exec_driver_sql("SELECT min_valid FROM ct_state").scalar()

    def changes(self, conn, table, key_columns, since, until, *, parent_column=None):
        from hamgam.tadbir.change_tracking import TrackedChange

        self.calls.append((table, since, until))
        rows = conn.exec_driver_sql(
            "SELECT k1, k2, k3, op, MAX(version) FROM ct_log WHERE tbl = ? AND version > ? AND version <= ? "
            "GROUP BY k1, k2, k3", (table, since, until)).all()
        out = []
        for k1, k2, k3, op, version in rows:
            key = (k1, k2, k3)[:len(key_columns)]
            parent = None
            if parent_column is not None:
                where = " AND ".join(f'"{k}" = ?' for k in key_columns)
                parent = conn.exec_driver_sql(f'SELECT "{parent_column}" FROM "{table}" WHERE {where}',
                                              key).scalar()
            out.append(TrackedChange(key, op, int(version), parent))
        return out
