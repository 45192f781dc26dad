"""The hand-made Tadbir world of the document pipeline tests: rows, settings, running a sync, reading outcomes.

Fixtures (``tadbir_template``, ``tadbir``, ``ledger``) live in this folder's conftest.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml

from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.tadbir import schema
from hamgam.transform.codes import make_national_code

QUOTE, SALES_INVOICE, SALES_RETURN, PURCHASE_INVOICE, PURCHASE_RETURN = 4, 1, 3, 0, 2
RECEIPT, PAYMENT = 0, 1
FACTOR_TYPE = {"quotes": QUOTE, "sales_invoices": SALES_INVOICE, "sales_returns": SALES_RETURN,
               "purchase_invoices": PURCHASE_INVOICE, "purchase_returns": PURCHASE_RETURN}
PAY_TYPE = {"receipts": RECEIPT, "payments": PAYMENT}
DOCUMENTS = tuple(FACTOR_TYPE)
ALL = DOCUMENTS + tuple(PAY_TYPE)
LABEL = {"quotes": "quote", "sales_invoices": "sales_invoice", "sales_returns": "sales_return",
         "purchase_invoices": "purchase_invoice", "purchase_returns": "purchase_return",
         "receipts": "receipt", "payments": "payment"}  # the spec label = the sandbox's record kind
PERIOD = {1403: 1, 1404: 2}  # fiscal year → FPId
DAY = {1: datetime(2024, 6, 1), 2: datetime(2025, 6, 1)}  # a day inside each period
PERSON_NATIONAL_CODE = make_national_code("001234567")  # customer 502
BAD_NATIONAL_CODE = PERSON_NATIONAL_CODE[:-1] + str((int(PERSON_NATIONAL_CODE[-1]) + 1) % 10)  # customer 503

SETTINGS: dict[str, Any] = {
    "companies": [{"code": 100, "tadbir_conn_id": "tadbir_default", "default": True}],
    # a handful of rows per test, most of them bad on purpose: the bad-share guard stays out of the way
    "sync": {"chunk_size": 50, "min_batch_for_bad_share": 1000, "amount_tolerance_rial": 10},
}


# -- Tadbir rows -----------------------------------------------------------------------------------

def line(product: int = 1, qty: float = 2, price: int = 100_000, *, discount: int = 0, vat: int = 0, toll: int = 0,
         **columns) -> dict:
    """A ``__SPArticle__`` row; NetPrice = total − discount + VAT + toll unless given."""
    return {"MerchandiseId": product, "Amount": qty, "UnitPrice": price, "Remainder": discount, "T1": vat, "T2": toll,
            "NetPrice": round(qty * price) - discount + vat + toll, **columns}


def add_document(engine, entity: str, number: int, *, year: int = 1404, lines: list[dict] | None = None,
                 customer: int = 1, **columns) -> int:
    """A header of ``entity`` (quotes, sales_invoices, sales_returns) and its lines; the header's Total and
    Discount are the lines' sums unless given. Returns the header's Id."""
    fp = PERIOD[year]
    lines = [line()] if lines is None else lines
    with engine.begin() as conn:
        row_id = (conn.execute(sa.select(sa.func.max(schema.sp_factor.c.Id)).where(
            schema.sp_factor.c.FPId == fp)).scalar() or 0) + 1
        header = {"Id": row_id, "FPId": fp, "FactorType": FACTOR_TYPE[entity], "FactorNo": number,
                  "SPDate": DAY[fp], "CustomerId": customer,
                  "Total": sum(round(li["Amount"] * li["UnitPrice"]) for li in lines),
                  "Discount": sum(li["Remainder"] for li in lines), **columns}
        conn.execute(schema.sp_factor.insert(), [header])
        first = (conn.execute(sa.select(sa.func.max(schema.sp_article.c.Id)).where(
            schema.sp_article.c.FPId == fp)).scalar() or 0) + 1
        if lines:
            conn.execute(schema.sp_article.insert(), [{"Id": first + i, "SPId": row_id, "FPId": fp, **li}
                                                      for i, li in enumerate(lines)])
    return row_id


def add_entry(engine, entity: str, number: int, *, year: int = 1404, customer: int = 1, amount: int = 5_000_000,
              **columns) -> int:
    """A ``__PayReceive__`` row of ``entity`` (receipts, payments); returns its Id."""
    fp = PERIOD[year]
    with engine.begin() as conn:
        row_id = (conn.execute(sa.select(sa.func.max(schema.pay_receive.c.Id)).where(
            schema.pay_receive.c.FPId == fp)).scalar() or 0) + 1
        conn.execute(schema.pay_receive.insert(), [
            {"Id": row_id, "FPId": fp, "Type": PAY_TYPE[entity], "No": number, "Date": DAY[fp],
             "CustomerId": customer, "Amount": amount, "Kind": 0, "Status": 1, **columns}])
    return row_id


def add(engine, entity: str, number: int, **columns) -> int:
    """One clean record of any document entity, with ``columns`` on its header."""
    if entity in PAY_TYPE:
        return add_entry(engine, entity, number, **columns)
    return add_document(engine, entity, number, **columns)


def update_header(engine, entity: str, row_id: int, year: int = 1404, **columns) -> None:
    table = schema.pay_receive if entity in PAY_TYPE else schema.sp_factor
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.Id == row_id, table.c.FPId == PERIOD[year]).values(**columns))


def number(entity: str, tadbir_no: int, year: int = 1404) -> str:
    return f"100-{year}/6-{tadbir_no}" if entity in PAY_TYPE else f"100-{year}/{tadbir_no}"


# -- running the pipeline --------------------------------------------------------------------------

def config_with(**sections: Any):
    data = {**SETTINGS, **{k: v for k, v in sections.items() if k not in ("sync", "company")}}
    data["sync"] = {**SETTINGS["sync"], **sections.get("sync", {})}
    data["companies"] = [{**SETTINGS["companies"][0], **sections.get("company", {})}]
    return parse_config(yaml.safe_dump(data, allow_unicode=True))


def sync(entity: str, tadbir, ledger, crm, *, config=None, **detect_options) -> dict[str, int]:
    config = config or config_with()
    ctx = SyncContext(config, config.company(100))
    detected = pipeline.detect(SPECS[entity], ctx, engine=tadbir, ledger=ledger, run_id="r", **detect_options)
    loaded = pipeline.load(SPECS[entity], ctx, engine=tadbir, ledger=ledger, client=crm, run_id="r")
    return {k: detected.get(k, 0) + loaded.get(k, 0) for k in {*detected, *loaded}}  # both count "skipped"


def crm_records(sandbox, entity: str) -> dict[str, dict]:
    return {r["number"]: r for r in sandbox.records(LABEL[entity])}


def outcome(ledger, entity: str, tadbir_no: int, year: int = 1404):
    return ledger.get(100, entity, f"{year}/{tadbir_no}")


def assert_set_aside(ledger, sandbox, entity: str, tadbir_no: int, row_id: int, status: str, *reasons: str,
                     year: int = 1404) -> None:
    """The record is not in the CRM, and the ledger says why, naming it: "quote 100-1404/7 (Id 3): ..."."""
    state = outcome(ledger, entity, tadbir_no, year)
    assert state is not None and state.status == status, state
    head = f"{LABEL[entity]} {number(entity, tadbir_no, year)}"
    assert state.last_error.startswith(f"{head} (Id {row_id}): " if status == "invalid" else f"{head}: "), \
        state.last_error
    for reason in reasons:
        assert reason in state.last_error, state.last_error
    assert number(entity, tadbir_no, year) not in crm_records(sandbox, entity)


def add_customer(engine, row_id: int, code: str | None, name: str, *, year: int = 1404, **columns) -> None:
    """A ``__Customer__`` row of one fiscal period (the template has 501, 502 and 503 in both)."""
    with engine.begin() as conn:
        conn.execute(schema.customer.insert(), [{"Id": row_id, "FPId": PERIOD[year], "SubscriptionNo": code,
                                                 "Name": name, "RegisterCode": "", **columns}])


def store_raw(engine, table: str, row_id: int, year: int = 1404, **columns: Any) -> None:
    """Write values as they are, past SQLAlchemy's types: what a legacy client leaves in a column
    (``FactorNo`` '12A', a Jalali date as text '0000/00/00')."""
    sets = ", ".join(f'"{column}" = :{column}' for column in columns)
    with engine.begin() as conn:
        conn.execute(sa.text(f'UPDATE "{table}" SET {sets} WHERE "Id" = :row_id AND "FPId" = :fp'),
                     {**columns, "row_id": row_id, "fp": PERIOD[year]})


def header_table(entity: str) -> str:
    return "__PayReceive__" if entity in PAY_TYPE else "__SPFactor__"
