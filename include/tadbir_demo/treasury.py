"""Receipts and payments (``__PayReceive__``, hamgam's assumed treasury table, reference section 7).

hamgam's decisions for the columns (no legacy treasury table is public):

* ``Type``: 0 receipt (money received from a customer), 1 payment (money paid to one).
* ``No`` runs 1, 2, ... per (FPId, Type) in entry order; ``Id`` runs 1, 2, ... per FPId in entry
  order over both types.
* ``Date``: the receipt/payment date, 00:00, inside its fiscal period. ``ETime``: the entry stamp
  (that day or up to three days later, working hours); ``EDate``: that stamp's day at 00:00.
* ``CustomerId``: a ``__Customer__.Id`` of the same FPId; 0 = not linked to a customer (petty
  cash, walk-in): the vendor syncs only receipts/payments linked to an identity, so these are skipped.
* ``Amount``: whole Rial, > 0. Most receipts settle a sales invoice of the period (its payable
  amount, or part of it) and most payments refund a sales return; the rest are on account.
* ``Kind``: 0 cash, 1 cheque. ``ChequeNo``: the cheque's 16-digit Sayad number, cheques only
  (``''`` for cash). ``ChequeDate``: the cheque's due date (cheques only, else NULL), 0-90 days
  after ``Date``, possibly after the period.
* ``Status`` (``STATUS_NAMES``): 0 registered (cheque in hand, not yet due or not yet deposited),
  1 settled (cash; cheque cashed), 2 bounced (cheque returned unpaid). Cash rows are always 1. A
  cheque due after the demo's "today" (the end of the newest period) is 0.
* ``Description``: Persian text naming the invoice or return it settles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .documents import SALES, SALES_RETURN, Document, PeriodData, day_in, entry_stamp, last_day, later_day
from .fiscal import Period

RECEIPT, PAYMENT = 0, 1
KIND_NAMES = {RECEIPT: "receipt", PAYMENT: "payment"}
CASH, CHEQUE = 0, 1
REGISTERED, SETTLED, BOUNCED = 0, 1, 2
STATUS_NAMES = {REGISTERED: "registered", SETTLED: "settled", BOUNCED: "bounced"}
PER_SCALE = {RECEIPT: 15, PAYMENT: 10}

# Case names in the summary's ``document_cases``.
NOT_LINKED_TO_CUSTOMER = "not_linked_to_customer"
RECEIPT_NEGATIVE_AMOUNT = "receipt_negative_amount"
CHEQUE_WITHOUT_NUMBER = "cheque_without_number"
RECEIPT_DATE_OUTSIDE_PERIOD = "receipt_date_outside_period"
TREASURY_CUSTOMER_MISSING = "treasury_customer_missing"


@dataclass
class Entry:
    fp: Period
    type: int
    date: datetime
    stamp: datetime
    customer_id: int
    amount: int
    description: str
    seq: int
    kind: int = CASH
    cheque_no: str = ""
    cheque_date: datetime | None = None
    status: int = SETTLED
    cases: list[tuple[str, str]] = field(default_factory=list)
    id: int = 0
    number: int = 0

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.type]


def _pay_by(rng: random.Random, entry: Entry, cheque_share: float, today: datetime) -> None:
    """Cash or cheque, with a cheque number, due date and status."""
    if rng.random() >= cheque_share:
        return
    entry.kind = CHEQUE
    entry.cheque_no = str(rng.randint(10**15, 10**16 - 1))
    entry.cheque_date = entry.date + timedelta(days=rng.randint(0, 90))
    if entry.cheque_date > today:
        entry.status = REGISTERED
    else:
        entry.status = rng.choices((SETTLED, BOUNCED, REGISTERED), weights=(88, 7, 5))[0]


def _round_down(amount: int, step: int = 100_000) -> int:
    return max(step, amount // step * step)


def _receipt(rng: random.Random, pd: PeriodData, invoices: list[Document], seq: int) -> Entry:
    fp = pd.fp
    if invoices and rng.random() < 0.7:
        invoice = rng.choice(invoices)
        day = later_day(rng, invoice.date, fp, 20)
        amount, text = invoice.payable, f"دریافت بابت فاکتور فروش شماره {invoice.number}"
        if rng.random() < 0.3:
            amount, text = _round_down(amount // 2), f"دریافت بخشی از مبلغ فاکتور فروش شماره {invoice.number}"
        customer_id = invoice.customer_id
    else:
        day = day_in(rng, fp)
        customer_id = rng.choice(pd.buyers)["Id"]
        amount, text = rng.randint(2, 300) * 500_000, "دریافت علی‌الحساب"
    return Entry(fp, RECEIPT, day, entry_stamp(rng, day, fp), customer_id, amount, text, seq)


def _payment(rng: random.Random, pd: PeriodData, returns: list[Document], seq: int) -> Entry:
    fp = pd.fp
    if returns and rng.random() < 0.5:
        ret = rng.choice(returns)
        day = later_day(rng, ret.date, fp, 10)
        customer_id = ret.customer_id
        amount, text = ret.payable, f"استرداد وجه برگشت از فروش شماره {ret.number}"
    else:
        day = day_in(rng, fp)
        customer_id = rng.choice(pd.sellers or pd.buyers)["Id"]
        amount = rng.randint(1, 200) * 1_000_000
        text = rng.choice(("پرداخت علی‌الحساب", "پرداخت بابت خرید کالا", "تسویه حساب"))
    return Entry(fp, PAYMENT, day, entry_stamp(rng, day, fp), customer_id, amount, text, seq)


def _unlinked(rng: random.Random, fp: Period, entry_type: int, seq: int) -> Entry:
    day = day_in(rng, fp)
    if entry_type == RECEIPT:
        amount, text = rng.randint(1, 40) * 500_000, "دریافت نقدی فروش متفرقه"
    else:
        amount, text = rng.randint(1, 20) * 500_000, "پرداخت هزینه متفرقه از تنخواه"
    entry = Entry(fp, entry_type, day, entry_stamp(rng, day, fp), 0, amount, text, seq)
    entry.cases.append((NOT_LINKED_TO_CUSTOMER, "CustomerId = 0: not linked to a customer (skipped downstream)"))
    return entry


def _apply_dirt(rng: random.Random, entry: Entry, case: str, missing_customer_base: int) -> str:
    fp = entry.fp
    if case == RECEIPT_NEGATIVE_AMOUNT:
        entry.amount = -entry.amount
        return f"Amount {entry.amount} is negative"
    if case == CHEQUE_WITHOUT_NUMBER:
        if entry.kind != CHEQUE:
            entry.kind, entry.status = CHEQUE, REGISTERED
            entry.cheque_date = entry.date + timedelta(days=rng.randint(0, 90))
        entry.cheque_no = ""
        return "Kind = 1 (cheque) but ChequeNo is empty"
    if case == RECEIPT_DATE_OUTSIDE_PERIOD:
        entry.date = last_day(fp) + timedelta(days=rng.randint(1, 20))
        entry.stamp = last_day(fp) + timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59))
        if entry.cheque_date is not None:
            entry.cheque_date = max(entry.cheque_date, entry.date)
        return f"Date {entry.date.date().isoformat()} lies after its fiscal period ({fp.end.date().isoformat()})"
    if case == TREASURY_CUSTOMER_MISSING:
        entry.customer_id = missing_customer_base + rng.randint(10, 300)
        return f"CustomerId {entry.customer_id} has no __Customer__ row in FPId {fp.id}"
    raise ValueError(f"unknown treasury case {case!r}")


_DIRT_PLAN = (
    (RECEIPT_NEGATIVE_AMOUNT, RECEIPT),
    (CHEQUE_WITHOUT_NUMBER, RECEIPT),
    (RECEIPT_DATE_OUTSIDE_PERIOD, RECEIPT),
    (TREASURY_CUSTOMER_MISSING, PAYMENT),
)


def generate_treasury(
    rng: random.Random,
    data: list[PeriodData],
    documents: list[Document],
    *,
    scale: int,
    missing_customer_base: int,
) -> list[Entry]:
    """Receipts and payments of every period, numbered, with their cases in ``Entry.cases``."""
    today = max(pd.fp.end for pd in data)
    out: list[Entry] = []
    for pd in data:
        fp = pd.fp
        mine = [d for d in documents if d.fp is fp and not d.cases and d.committed and d.lines]
        invoices = [d for d in mine if d.factor_type == SALES]
        returns = [d for d in mine if d.factor_type == SALES_RETURN]
        seq = iter(range(1_000_000))
        entries: dict[int, list[Entry]] = {RECEIPT: [], PAYMENT: []}
        for entry_type, make, sources, cheque_share in (
            (RECEIPT, _receipt, invoices, 0.45),
            (PAYMENT, _payment, returns, 0.4),
        ):
            for i in range(PER_SCALE[entry_type] * scale):
                if i < scale:
                    entry = _unlinked(rng, fp, entry_type, next(seq))
                else:
                    entry = make(rng, pd, sources, next(seq))
                _pay_by(rng, entry, cheque_share, today)
                entries[entry_type].append(entry)
        for _ in range(scale):
            for case, entry_type in _DIRT_PLAN:
                candidates = [e for e in entries[entry_type] if not e.cases]
                if case == CHEQUE_WITHOUT_NUMBER:
                    candidates = [e for e in candidates if e.kind == CHEQUE] or candidates
                entry = rng.choice(candidates)
                entry.cases.append((case, _apply_dirt(rng, entry, case, missing_customer_base)))
        ordered = sorted(
            (e for es in entries.values() for e in es), key=lambda e: (e.stamp, e.type, e.seq)
        )
        numbers = dict.fromkeys(entries, 0)
        for entry_id, entry in enumerate(ordered, start=1):
            numbers[entry.type] += 1
            entry.id, entry.number = entry_id, numbers[entry.type]
        out += ordered
    return out


def pay_receive_rows(entries: list[Entry]) -> list[dict]:
    rows = []
    for e in entries:
        rows.append({
            "Id": e.id, "FPId": e.fp.id, "Type": e.type, "No": e.number, "Date": e.date,
            "CustomerId": e.customer_id, "Amount": e.amount, "Kind": e.kind, "ChequeNo": e.cheque_no,
            "ChequeDate": e.cheque_date, "Status": e.status, "Description": e.description,
            "EDate": e.stamp.replace(hour=0, minute=0, second=0), "ETime": e.stamp,
        })
    return rows
