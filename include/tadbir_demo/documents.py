"""Sales documents per fiscal period: quotes, sales invoices and sales returns.

Tables ``__SPFactor__`` (header), ``__SPArticle__`` (lines) and ``__SPTax__`` (tax postings); a few
documents per period carry deliberate dirt, listed in the build summary (``document_cases``).

hamgam's decisions for the columns the public record leaves open (reference sections 1.3 and 6):

Header, ``__SPFactor__``

* ``FactorType`` 4 quote, 1 sales invoice, 3 sales return. ``FactorNo`` runs 1, 2, ... per
  (FPId, FactorType) in entry order; ``Id`` runs 1, 2, ... per FPId in entry order over all types.
* ``SPDate``: the document date, 00:00, inside its fiscal period. ``ETime``: the entry stamp (the
  same day or up to three days later, working hours); ``EDate``: that stamp's day at 00:00.
* ``Total`` = Σ Amount × UnitPrice (gross, before discount and tax); ``Discount`` = Σ ``Remainder``;
  ``Expense`` = additions (transport, 0 mostly). The payable amount is therefore
  ``Total - Discount + Expense + Σ T1 + Σ T2``. All amounts are whole Rial.
* ``SPReference``: on a sales return the ``Id`` of the sales invoice it returns (same FPId, same
  customer), or 0 when the return names no invoice; 0 on every other type.
* ``Committed``: 1 final, 0 draft. ``Cancelled``: 1 void (the CRM treats it like a delete).
* ``CustomerName``/``CustomerPhoneNo``/``CustomerEcCode``/``CustomerAddress``: snapshot of the
  customer row (``PhoneNo``, or ``MobileNo`` when ``PhoneNo`` is empty).
* ``AccountId``/``FAccId``: the customer's account and detail account. ``SPAccountId``: sales
  revenue for invoices, sales returns for returns, ``"0"`` for quotes (quotes do not post).
* ``BrokerId``: a broker of the period or 0; ``BrokerPercent``: its commission percent;
  ``BrokerShare`` = round((Total - Discount) × BrokerPercent / 100).
* ``TEnable`` 1 when the document carries VAT or toll, ``TValue`` 0, ``TRS`` = FPId (as the app sets).

Lines, ``__SPArticle__`` (1-5 per document, distinct products, so option 122 holds)

* ``MerchandiseId``: a non-group product of the period; ``UnitId``: its unit; ``Amount``: quantity
  (one decimal for kilogram and metre units); ``StockRoomId``: a warehouse of the period.
* ``UnitPrice``: ``__SalesPrice__.Val2`` at the customer's price level (``__Customer__.LRes``),
  falling back to the product's lowest level, then to ``__Merchandise__.UnitPrice``.
* ``Remainder`` = line discount = round(Amount × UnitPrice × discount% / 100), discount% 0 mostly.
* ``T1`` = VAT = round((Amount × UnitPrice - Remainder) × TaxPercent / 100) and ``T2`` = toll, the
  same with AvarezPercent, from the ``__MerchTax__`` row in force on SPDate (latest EffectDate <=
  SPDate); both 0 when the product has no tax row.
* ``NetPrice`` = Amount × UnitPrice - Remainder + T1 + T2.
* Rounding is half-up to whole Rial.

Tax postings, ``__SPTax__``: per document one VAT row (Σ T1, "مالیات بر ارزش افزوده") and one toll
row (Σ T2, "عوارض"), each only when its amount is not 0.

Sales returns copy a subset of their invoice's lines (same product, warehouse, price and discount
percent) with a quantity no larger than the original.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hamgam.tadbir import schema

from . import names, places
from .accounts import (
    INVENTORY_ACC,
    RECEIVABLES_ACC,
    SALES_ACC,
    SALES_RETURN_ACC,
    TOLL_PAYABLE_ACC,
    VAT_PAYABLE_ACC,
    customer_detail_id,
)
from .catalog import FRACTIONAL_UNITS
from .fiscal import Period

QUOTE, SALES, SALES_RETURN = 4, 1, 3
KIND_NAMES = {QUOTE: "quote", SALES: "sales_invoice", SALES_RETURN: "sales_return"}
PER_SCALE = {QUOTE: 20, SALES: 30, SALES_RETURN: 6}
_TYPE_RANK = {QUOTE: 0, SALES: 1, SALES_RETURN: 2}  # tie-break of equal entry stamps

# Case names in the summary's ``document_cases`` (dirt, plus states worth showing).
NO_LINES = "no_lines"
CANCELLED = "cancelled"
CUSTOMER_MISSING = "customer_missing"
INVALID_CUSTOMER = "invalid_customer"
TOTAL_MISMATCH = "total_mismatch"
NEGATIVE_LINE = "negative_line"
DATE_OUTSIDE_PERIOD = "date_outside_period"
RETURN_WITHOUT_INVOICE = "return_without_invoice"

# The dirty customer case whose customers the invalid-customer documents use (rejected downstream).
INVALID_CUSTOMER_CASE = "invalid_national_code"

VAT_DESC = "مالیات بر ارزش افزوده"
TOLL_DESC = "عوارض"

_QTY = Decimal("0.0001")
_ONE = Decimal(1)
_HUNDRED = Decimal(100)

_DESCRIPTIONS = {
    QUOTE: ("", "", "", "", "اعتبار پیش‌فاکتور یک هفته", "قیمت‌ها بدون هزینه حمل", "در انتظار تأیید مشتری"),
    SALES: ("", "", "", "", "", "ارسال با باربری", "تحویل در محل فروشگاه", "تسویه نقدی",
            "پرداخت با چک یک‌ماهه", "طبق پیش‌فاکتور"),
    SALES_RETURN: ("", "مرجوعی به دلیل خرابی کالا", "برگشت کالای اضافه ارسال‌شده", "عدم تطابق با سفارش"),
}
_EXPENSE_DESC = "هزینه حمل و بارگیری"
_EXPENSES = (300_000, 500_000, 1_000_000, 1_500_000, 2_000_000)
_DISCOUNTS = (Decimal(0), Decimal(2), Decimal(5), Decimal(10))


def rial(value: Decimal | int) -> int:
    """Half-up rounding to a whole Rial."""
    return int(Decimal(value).quantize(_ONE, rounding=ROUND_HALF_UP))


def blank_row(table) -> dict:
    """Every column of ``table`` at its Python-side default (None where it has none)."""
    return {c.name: (c.default.arg if c.default is not None else None) for c in table.columns}


# -- per-period lookups ----------------------------------------------------------------------------


@dataclass
class PeriodData:
    """One fiscal period's master data, read back from the generated rows."""

    fp: Period
    customers: dict[int, dict]  # Id -> __Customer__ row
    buyers: list[dict]  # clean customers that buy (Type 0 or 2)
    sellers: list[dict]  # clean customers that sell to the company (Type 0 or 1)
    products: list[dict]  # non-group __Merchandise__ rows
    prices: dict[tuple[int, int], int]  # (MerchId, price level) -> Val2
    taxes: dict[int, list[tuple[datetime | None, Decimal, Decimal]]]  # MerchId -> rates by EffectDate
    stock_rooms: list[int]
    brokers: dict[int, Decimal]  # Id -> commission percent

    def unit_price(self, merch: dict, level: int) -> int:
        price = self.prices.get((merch["Id"], level))
        if price is None:
            levels = sorted(t for m, t in self.prices if m == merch["Id"])
            price = self.prices[(merch["Id"], levels[0])] if levels else int(merch["UnitPrice"])
        return int(price)

    def rates(self, merch_id: int, when: datetime) -> tuple[Decimal, Decimal]:
        """(TaxPercent, AvarezPercent) in force on ``when``; (0, 0) without a tax row."""
        found = (Decimal(0), Decimal(0))
        for effect, tax, toll in self.taxes.get(merch_id, ()):
            if effect is None or effect <= when:
                found = (tax, toll)
        return found


def period_data(rows: dict[str, list[dict]], fp: Period, dirty_customer_ids: Iterable[int]) -> PeriodData:
    def of(table) -> list[dict]:
        return [r for r in rows[table.name] if r["FPId"] == fp.id]

    dirty = set(dirty_customer_ids)
    customers = {r["Id"]: r for r in of(schema.customer)}
    clean = [r for r in customers.values() if r["Id"] not in dirty and r["Name"]]
    taxes: dict[int, list] = {}
    for r in sorted(of(schema.merch_tax), key=lambda t: (t["EffectDate"] or datetime.min, t["Id"])):
        taxes.setdefault(r["MerchId"], []).append(
            (r["EffectDate"], Decimal(r["TaxPercent"]), Decimal(r["AvarezPercent"]))
        )
    return PeriodData(
        fp=fp,
        customers=customers,
        buyers=[r for r in clean if r["Type"] in (0, 2)],
        sellers=[r for r in clean if r["Type"] in (0, 1)],
        products=sorted((r for r in of(schema.merchandise) if r["IsGroup"] != 1), key=lambda r: r["Id"]),
        prices={(r["MerchId"], r["Type"]): r["Val2"] for r in of(schema.sales_price)},
        taxes=taxes,
        stock_rooms=sorted(r["Id"] for r in of(schema.stock_room)),
        brokers={r["Id"]: Decimal(r["CommissionPercent"]) for r in of(schema.broker)},
    )


# -- dates -----------------------------------------------------------------------------------------


def last_day(fp: Period) -> datetime:
    return fp.end.replace(hour=0, minute=0, second=0)


def day_in(rng: random.Random, fp: Period) -> datetime:
    """A document date (00:00) inside ``fp``."""
    return fp.start + timedelta(days=rng.randint(0, (last_day(fp) - fp.start).days))


def entry_stamp(rng: random.Random, day: datetime, fp: Period) -> datetime:
    """When a document dated ``day`` was entered: that day mostly, sometimes 1-3 days later."""
    lag = 0 if rng.random() < 0.8 else rng.randint(1, 3)
    clock = timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    stamp = day + timedelta(days=lag) + clock
    return stamp if stamp <= fp.end else day + clock


def later_day(rng: random.Random, day: datetime, fp: Period, max_days: int) -> datetime:
    """A day 0..max_days after ``day``, not past the period's last day."""
    return min(day + timedelta(days=rng.randint(0, max_days)), max(day, last_day(fp)))


# -- documents -------------------------------------------------------------------------------------


@dataclass
class Line:
    merch_id: int
    unit_id: int
    amount: Decimal
    unit_price: int
    discount_pct: Decimal
    stock_room_id: int
    tax_pct: Decimal
    toll_pct: Decimal

    @property
    def gross(self) -> Decimal:
        return self.amount * self.unit_price

    @property
    def remainder(self) -> int:
        return rial(self.gross * self.discount_pct / _HUNDRED)

    @property
    def t1(self) -> int:
        return rial((self.gross - self.remainder) * self.tax_pct / _HUNDRED)

    @property
    def t2(self) -> int:
        return rial((self.gross - self.remainder) * self.toll_pct / _HUNDRED)

    @property
    def net_price(self) -> int:
        return rial(self.gross - self.remainder + self.t1 + self.t2)


@dataclass
class Document:
    fp: Period
    factor_type: int
    date: datetime  # SPDate
    stamp: datetime  # ETime
    customer_id: int
    snapshot: dict[str, str]  # CustomerName, CustomerPhoneNo, CustomerEcCode, CustomerAddress
    account: tuple[str, int]  # (AccountId, FAccId) of the customer
    broker_id: int
    broker_percent: Decimal
    seq: int  # generation order: a stable tie-break
    lines: list[Line] = field(default_factory=list)
    expense: int = 0
    committed: int = 1
    cancelled: int = 0
    desc: str = ""
    total_offset: int = 0  # dirt: header Total minus the lines' sum
    reference: Document | None = None  # sales returns: the invoice returned
    cases: list[tuple[str, str]] = field(default_factory=list)  # (case, note)
    id: int = 0
    number: int = 0

    @property
    def lines_total(self) -> int:
        return rial(sum((ln.gross for ln in self.lines), Decimal(0)))

    @property
    def total(self) -> int:
        return self.lines_total + self.total_offset

    @property
    def discount(self) -> int:
        return sum(ln.remainder for ln in self.lines)

    @property
    def vat(self) -> int:
        return sum(ln.t1 for ln in self.lines)

    @property
    def toll(self) -> int:
        return sum(ln.t2 for ln in self.lines)

    @property
    def payable(self) -> int:
        return self.lines_total - self.discount + self.expense + self.vat + self.toll

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.factor_type]


def _snapshot(customer: dict) -> dict[str, str]:
    return {
        "CustomerName": customer["Name"],
        "CustomerPhoneNo": customer["PhoneNo"] or customer["MobileNo"],
        "CustomerEcCode": customer["EcCode"],
        "CustomerAddress": customer["Address"],
    }


def _quantity(rng: random.Random, unit_id: int) -> Decimal:
    if unit_id in FRACTIONAL_UNITS:
        return (Decimal(rng.randint(5, 250)) / 10).quantize(_QTY)
    if rng.random() < 0.1:
        return Decimal(rng.choice((20, 24, 50, 100))).quantize(_QTY)
    return Decimal(rng.randint(1, 10)).quantize(_QTY)


def _part_of(rng: random.Random, amount: Decimal, unit_id: int) -> Decimal:
    """A returned quantity: more than 0, at most ``amount``."""
    if unit_id in FRACTIONAL_UNITS:
        return (Decimal(rng.randint(1, int(amount * 10))) / 10).quantize(_QTY)
    return Decimal(rng.randint(1, int(amount))).quantize(_QTY)


def _lines(rng: random.Random, pd: PeriodData, customer: dict, day: datetime) -> list[Line]:
    count = rng.choices((1, 2, 3, 4, 5), weights=(30, 30, 20, 12, 8))[0]
    level = int(customer["LRes"] or 0)
    lines = []
    for merch in rng.sample(pd.products, min(count, len(pd.products))):
        tax, toll = pd.rates(merch["Id"], day)
        room = pd.stock_rooms[0] if rng.random() < 0.75 else rng.choice(pd.stock_rooms)
        lines.append(
            Line(
                merch_id=merch["Id"],
                unit_id=merch["UnitId"],
                amount=_quantity(rng, merch["UnitId"]),
                unit_price=pd.unit_price(merch, level),
                discount_pct=rng.choices(_DISCOUNTS, weights=(85, 5, 7, 3))[0],
                stock_room_id=room,
                tax_pct=tax,
                toll_pct=toll,
            )
        )
    return lines


def _new_document(rng: random.Random, pd: PeriodData, factor_type: int, seq: int) -> Document:
    customer = rng.choice(pd.buyers)
    day = day_in(rng, pd.fp)
    broker = rng.choice(sorted(pd.brokers)) if pd.brokers and rng.random() < 0.6 else 0
    doc = Document(
        fp=pd.fp,
        factor_type=factor_type,
        date=day,
        stamp=entry_stamp(rng, day, pd.fp),
        customer_id=customer["Id"],
        snapshot=_snapshot(customer),
        account=(customer["AccId"], customer["FAccId"]),
        broker_id=broker,
        broker_percent=pd.brokers.get(broker, Decimal(0)),
        seq=seq,
        lines=_lines(rng, pd, customer, day),
        committed=1 if rng.random() < (0.85 if factor_type == QUOTE else 0.95) else 0,
        desc=rng.choice(_DESCRIPTIONS[factor_type]),
    )
    if rng.random() < 0.12:
        doc.expense = rng.choice(_EXPENSES)
        doc.desc = f"{doc.desc} - {_EXPENSE_DESC}" if doc.desc else _EXPENSE_DESC
    return doc


def _return_of(rng: random.Random, pd: PeriodData, invoice: Document, seq: int) -> Document:
    day = min(invoice.date + timedelta(days=rng.randint(1, 30)), last_day(pd.fp))
    stamp = max(entry_stamp(rng, day, pd.fp), invoice.stamp + timedelta(hours=1))
    picked = sorted(rng.sample(range(len(invoice.lines)), rng.randint(1, len(invoice.lines))))
    lines = []
    for i in picked:
        src = invoice.lines[i]
        tax, toll = pd.rates(src.merch_id, day)
        lines.append(replace(src, amount=_part_of(rng, src.amount, src.unit_id), tax_pct=tax, toll_pct=toll))
    return Document(
        fp=pd.fp,
        factor_type=SALES_RETURN,
        date=day,
        stamp=stamp,
        customer_id=invoice.customer_id,
        snapshot=dict(invoice.snapshot),
        account=invoice.account,
        broker_id=invoice.broker_id,
        broker_percent=invoice.broker_percent,
        seq=seq,
        lines=lines,
        desc=rng.choice(_DESCRIPTIONS[SALES_RETURN]),
        reference=invoice,
    )


# -- dirt ------------------------------------------------------------------------------------------


def _dirt_plan(period_index: int) -> list[tuple[str, int]]:
    """(case, FactorType) of the dirty documents of one period, at scale 1."""
    plan = [
        (NO_LINES, QUOTE if period_index % 2 == 0 else SALES),
        (CANCELLED, QUOTE),
        (CUSTOMER_MISSING, SALES),
        (INVALID_CUSTOMER, SALES),
        (TOTAL_MISMATCH, SALES),
        (NEGATIVE_LINE, QUOTE),
        (DATE_OUTSIDE_PERIOD, SALES),
    ]
    if period_index == 1:  # the demo's second fiscal period also has a void sales invoice
        plan.insert(2, (CANCELLED, SALES))
    return plan


def _apply_dirt(
    rng: random.Random,
    pd: PeriodData,
    doc: Document,
    case: str,
    variant: int,
    invalid_customer_ids: list[int],
    missing_customer_base: int,
) -> str:
    """Make ``doc`` dirty in the way ``case`` names; return the summary note."""
    fp = pd.fp
    if case == NO_LINES:
        doc.lines, doc.expense = [], 0
        return "header without lines (the vendor syncs only documents with at least one line)"
    if case == CANCELLED:
        doc.cancelled = 1
        return "Cancelled = 1: void, handled like a delete in the CRM"
    if case == CUSTOMER_MISSING:
        name, _, _ = names.person_name(rng)
        missing_customer_id = missing_customer_base + rng.randint(10, 300)
        doc.customer_id = missing_customer_id
        doc.account = (RECEIVABLES_ACC, customer_detail_id(missing_customer_id))
        doc.snapshot = {"CustomerName": name, "CustomerPhoneNo": "", "CustomerEcCode": "",
                        "CustomerAddress": places.address(rng)}
        return f"CustomerId {missing_customer_id} has no __Customer__ row in FPId {fp.id}"
    if case == INVALID_CUSTOMER:
        customer = pd.customers[rng.choice(invalid_customer_ids)]
        doc.customer_id = customer["Id"]
        doc.snapshot = _snapshot(customer)
        doc.account = (customer["AccId"], customer["FAccId"])
        return f"customer {customer['Id']} is the dirty case {INVALID_CUSTOMER_CASE} (rejected downstream)"
    if case == TOTAL_MISMATCH:
        doc.total_offset = rng.choice((1, 2, 5, 10, 20)) * 1_000_000
        return f"header Total is {doc.total_offset} Rial more than the sum of its lines"
    if case == NEGATIVE_LINE:
        line = rng.choice(doc.lines)
        position = doc.lines.index(line) + 1
        if variant % 2 == 0:
            line.amount = -line.amount
            return f"line {position} has a negative Amount ({line.amount.normalize():f})"
        line.unit_price = -line.unit_price
        return f"line {position} has a negative UnitPrice ({line.unit_price})"
    if case == DATE_OUTSIDE_PERIOD:
        doc.date = fp.start - timedelta(days=rng.randint(1, 15))
        doc.stamp = fp.start + timedelta(days=rng.randint(0, 10), hours=rng.randint(8, 17),
                                         minutes=rng.randint(0, 59))
        for line in doc.lines:
            line.tax_pct, line.toll_pct = pd.rates(line.merch_id, doc.date)
        return f"SPDate {doc.date.date().isoformat()} lies before its fiscal period ({fp.start.date().isoformat()})"
    raise ValueError(f"unknown document case {case!r}")


# -- generation ------------------------------------------------------------------------------------


def generate_documents(
    rng: random.Random,
    data: list[PeriodData],
    *,
    scale: int,
    invalid_customer_ids: Iterable[int],
    missing_customer_base: int,
) -> list[Document]:
    """Every period's documents, numbered, with their dirt recorded in ``Document.cases``.

    ``missing_customer_base``: an Id above every customer Id of every period; the
    customer-missing documents point past it.
    """
    invalid = sorted(invalid_customer_ids)
    out: list[Document] = []
    for index, pd in enumerate(data):
        if not pd.buyers or not pd.products or not pd.stock_rooms:
            raise ValueError(f"fiscal period {pd.fp.id} lacks customers, products or warehouses")
        seq = iter(range(1_000_000))
        docs = {
            t: [_new_document(rng, pd, t, next(seq)) for _ in range(PER_SCALE[t] * scale)]
            for t in (QUOTE, SALES)
        }
        invalid_here = [i for i in invalid if i in pd.customers]
        for k in range(scale):
            for case, factor_type in _dirt_plan(index):
                if case == INVALID_CUSTOMER and not invalid_here:
                    continue
                doc = rng.choice([d for d in docs[factor_type] if not d.cases])
                note = _apply_dirt(rng, pd, doc, case, index + k, invalid_here, missing_customer_base)
                doc.cases.append((case, note))

        returns = PER_SCALE[SALES_RETURN] * scale
        unreferenced = max(1, returns // 5)
        cutoff = last_day(pd.fp) - timedelta(days=5)
        eligible = [d for d in docs[SALES] if not d.cases and d.committed and d.lines and d.date <= cutoff]
        referenced = rng.sample(eligible, min(returns - unreferenced, len(eligible)))
        docs[SALES_RETURN] = [_return_of(rng, pd, inv, next(seq)) for inv in sorted(referenced, key=lambda d: d.seq)]
        while len(docs[SALES_RETURN]) < returns:
            doc = _new_document(rng, pd, SALES_RETURN, next(seq))
            doc.cases.append((RETURN_WITHOUT_INVOICE, "SPReference = 0: the return names no sales invoice"))
            docs[SALES_RETURN].append(doc)

        period_docs = sorted(
            (d for ds in docs.values() for d in ds), key=lambda d: (d.stamp, _TYPE_RANK[d.factor_type], d.seq)
        )
        numbers = dict.fromkeys(docs, 0)
        for doc_id, doc in enumerate(period_docs, start=1):
            numbers[doc.factor_type] += 1
            doc.id, doc.number = doc_id, numbers[doc.factor_type]
        out += period_docs
    return out


# -- rows ------------------------------------------------------------------------------------------


def document_rows(docs: list[Document]) -> tuple[list[dict], list[dict], list[dict]]:
    """``__SPFactor__``, ``__SPArticle__`` and ``__SPTax__`` rows; line and tax Ids run per FPId."""
    headers, articles, taxes = [], [], []
    line_ids: dict[int, int] = {}
    tax_ids: dict[int, int] = {}
    for doc in docs:
        fpid = doc.fp.id
        total, discount = doc.total, doc.discount
        broker_pct = doc.broker_percent if doc.broker_id else Decimal(0)
        header = blank_row(schema.sp_factor)
        header.update(
            {
                "Id": doc.id, "FactorNo": doc.number, "SPDate": doc.date, "FactorType": doc.factor_type,
                "Committed": doc.committed, "SPReference": doc.reference.id if doc.reference else 0,
                "AccountId": doc.account[0], "FAccId": doc.account[1],
                "SPAccountId": {QUOTE: "0", SALES: SALES_ACC, SALES_RETURN: SALES_RETURN_ACC}[doc.factor_type],
                "CustomerId": doc.customer_id, "Total": total, "Discount": discount, "Expense": doc.expense,
                "SPDesc": doc.desc, **doc.snapshot, "BrokerId": doc.broker_id,
                "BrokerShare": rial((total - discount) * broker_pct / _HUNDRED) if doc.broker_id else 0,
                "BrokerPercent": broker_pct, "UserId": 1, "ETime": doc.stamp,
                "EDate": doc.stamp.replace(hour=0, minute=0, second=0), "FPId": fpid,
                "Cancelled": doc.cancelled, "TEnable": 1 if doc.vat or doc.toll else 0, "TRS": fpid,
            }
        )
        headers.append(header)
        for line in doc.lines:
            line_ids[fpid] = line_ids.get(fpid, 0) + 1
            article = blank_row(schema.sp_article)
            article.update(
                {
                    "Id": line_ids[fpid], "SPId": doc.id, "MerchandiseId": line.merch_id, "Amount": line.amount,
                    "StockRoomId": line.stock_room_id, "UnitId": line.unit_id, "UnitPrice": line.unit_price,
                    "Remainder": line.remainder, "FPId": fpid, "StockAccId": INVENTORY_ACC,
                    "NetPrice": line.net_price, "T1": line.t1, "T2": line.t2,
                }
            )
            articles.append(article)
        for amount, account, desc in ((doc.vat, VAT_PAYABLE_ACC, VAT_DESC), (doc.toll, TOLL_PAYABLE_ACC, TOLL_DESC)):
            if amount:
                tax_ids[fpid] = tax_ids.get(fpid, 0) + 1
                taxes.append(
                    {"Id": tax_ids[fpid], "SPId": doc.id, "TaxAccount": account, "TaxFAccId": 0, "TaxCCId": 0,
                     "TaxPrjId": 0, "TaxAmount": amount, "SPTaxDesc": desc, "FPId": fpid}
                )
    return headers, articles, taxes
