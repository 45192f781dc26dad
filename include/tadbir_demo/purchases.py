"""Purchase documents per fiscal period: purchase invoices (``FactorType`` 0) and purchase returns (2).

Same tables and column rules as the sales documents (``documents``), with these differences: the other
party is a supplier (a clean customer of Type 0 or 1), there is no broker, ``SPAccountId`` is the purchases
account (returns: purchase returns), and a purchase return's ``SPReference`` is the purchase invoice it
returns (or 0). They are generated from their own random stream and numbered after the period's sales
documents (``Id`` continues each FPId's run; ``FactorNo`` runs 1, 2, ... per (FPId, FactorType) in entry
order), so adding them left every sales document of a given seed as it was.

Dirt, listed in ``document_cases`` like the sales documents': per period a purchase invoice without lines,
one cancelled, one whose header Total is more than its lines, one dated before its fiscal period, one whose
supplier has no ``__Customer__`` row, and a purchase return that names no invoice.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from .documents import (
    CANCELLED,
    CUSTOMER_MISSING,
    DATE_OUTSIDE_PERIOD,
    NO_LINES,
    PURCHASE,
    PURCHASE_RETURN,
    RETURN_WITHOUT_INVOICE,
    TOTAL_MISMATCH,
    Document,
    PeriodData,
    _apply_dirt,
    _new_document,
    _return_of,
    last_day,
)

PER_SCALE = {PURCHASE: 12, PURCHASE_RETURN: 4}
_DIRT = (NO_LINES, CANCELLED, TOTAL_MISMATCH, DATE_OUTSIDE_PERIOD, CUSTOMER_MISSING)


def _supplied(pd: PeriodData) -> PeriodData:
    """The period's data with its suppliers where the sales generator takes its buyers, and no brokers."""
    return replace(pd, buyers=pd.sellers or pd.buyers, brokers={})


def generate_purchases(rng: random.Random, data: list[PeriodData], sales: Iterable[Document], *, scale: int,
                       missing_customer_base: int) -> list[Document]:
    """Every period's purchase invoices and returns, numbered after that period's ``sales`` documents."""
    last_id: dict[int, int] = {}
    for doc in sales:
        last_id[doc.fp.id] = max(last_id.get(doc.fp.id, 0), doc.id)
    out: list[Document] = []
    for index, period in enumerate(data):
        pd = _supplied(period)
        seq = iter(range(1_000_000))
        invoices = [_new_document(rng, pd, PURCHASE, next(seq)) for _ in range(PER_SCALE[PURCHASE] * scale)]
        for k in range(scale):
            for case in _DIRT:
                doc = rng.choice([d for d in invoices if not d.cases])
                doc.cases.append((case, _apply_dirt(rng, pd, doc, case, index + k, [], missing_customer_base)))
        wanted = PER_SCALE[PURCHASE_RETURN] * scale
        cutoff = last_day(pd.fp) - timedelta(days=5)
        eligible = [d for d in invoices if not d.cases and d.committed and d.lines and d.date <= cutoff]
        returned = rng.sample(eligible, min(wanted - scale, len(eligible)))
        returns = [_return_of(rng, pd, invoice, next(seq), factor_type=PURCHASE_RETURN)
                   for invoice in sorted(returned, key=lambda d: d.seq)]
        while len(returns) < wanted:
            doc = _new_document(rng, pd, PURCHASE_RETURN, next(seq))
            doc.cases.append((RETURN_WITHOUT_INVOICE, "SPReference = 0: the return names no purchase invoice"))
            returns.append(doc)
        numbers = {PURCHASE: 0, PURCHASE_RETURN: 0}
        for offset, doc in enumerate(sorted((*invoices, *returns), key=lambda d: (d.stamp, d.factor_type, d.seq)),
                                     start=1):
            numbers[doc.factor_type] += 1
            doc.id, doc.number = last_id.get(pd.fp.id, 0) + offset, numbers[doc.factor_type]
            out.append(doc)
    return out
