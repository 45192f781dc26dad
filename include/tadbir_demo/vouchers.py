"""Journal vouchers (``__Transaction__`` and ``__Article__``) for the demo's invoices, returns, receipts and
payments, so a customer's live balance (``hamgam.webapp.balance``) has something to add up.

One voucher per document, in date order per fiscal period, with two rows: the customer's side on its
receivables account and detail account (``FAccId``), the other side on the sales, returns, purchases or cash
account. Sales invoices and payments debit the customer; sales returns, purchase invoices and receipts
credit it; purchase returns debit it. Quotes, cancelled or uncommitted documents and entries whose customer is
not in the period make no voucher. The amount is the header's ``Total`` (or the entry's ``Amount``).
"""

from __future__ import annotations

from hamgam.tadbir import schema

from .accounts import PURCHASE_RETURNS_ACC, PURCHASES_ACC, RECEIVABLES_ACC, SALES_ACC, SALES_RETURN_ACC

CASH_ACC = "1101"  # cash and banks: the other side of receipts and payments
# FactorType -> (customer debited?, the other account)
_DOCUMENT_SIDES = {1: (True, SALES_ACC), 3: (False, SALES_RETURN_ACC), 0: (False, PURCHASES_ACC),
                   2: (True, PURCHASE_RETURNS_ACC)}
# __PayReceive__.Type -> customer debited? (0 receipt: the customer paid; 1 payment: the company paid it)
_ENTRY_SIDES = {0: False, 1: True}


def voucher_rows(rows: dict[str, list[dict]]) -> tuple[list[dict], list[dict]]:
    """``__Transaction__`` and ``__Article__`` rows for the documents and treasury entries in ``rows``."""
    detail = {(c["Id"], c["FPId"]): c["FAccId"] for c in rows[schema.customer.name]}
    postings = []  # (FPId, date, description, customer FAccId, amount, customer debited, other account)
    for doc in rows[schema.sp_factor.name]:
        sides = _DOCUMENT_SIDES.get(doc["FactorType"])
        f_acc = detail.get((doc["CustomerId"], doc["FPId"]))
        if sides is None or f_acc is None or doc.get("Cancelled") or not doc.get("Committed", 1):
            continue
        postings.append((doc["FPId"], doc["SPDate"], f"factor {doc['FactorType']}/{doc['FactorNo']}", f_acc,
                         int(doc["Total"] or 0), *sides))
    for entry in rows[schema.pay_receive.name]:
        f_acc = detail.get((entry["CustomerId"], entry["FPId"]))
        if f_acc is None or entry["Type"] not in _ENTRY_SIDES:
            continue
        postings.append((entry["FPId"], entry["Date"], f"pay_receive {entry['Type']}/{entry['No']}", f_acc,
                         int(entry["Amount"] or 0), _ENTRY_SIDES[entry["Type"]], CASH_ACC))
    vouchers: list[dict] = []
    articles: list[dict] = []
    numbers: dict[int, int] = {}
    for fp_id, when, desc, f_acc, amount, debited, other in sorted(postings, key=lambda p: (p[0], p[1], p[2])):
        number = numbers[fp_id] = numbers.get(fp_id, 0) + 1
        vouchers.append({"Id": number, "FPId": fp_id, "SanadNo": number, "TDate": when, "TDesc": desc, "TRes": "",
                         "Balanced": 1, "SabtCount": 1, "UserName": "demo"})
        customer_side = {"AccountId": RECEIVABLES_ACC, "FAccId": f_acc}
        other_side = {"AccountId": other, "FAccId": 0}
        for row_no, side in enumerate((customer_side, other_side) if debited else (other_side, customer_side), 1):
            articles.append({"Id": 0, "TransId": number, "FPId": fp_id, "ANo": row_no, **side, "CostCenter": 0,
                             "Project": 0, "CurrencyId": 0, "CurrencyVal": 0,
                             "Debit": amount if row_no == 1 else 0, "Credit": amount if row_no == 2 else 0,
                             "ADesc": desc, "AMark": 0, "SAId": 0})
    per_period: dict[int, int] = {}
    for article in articles:  # Ids run 1, 2, ... per FPId
        article["Id"] = per_period[article["FPId"]] = per_period.get(article["FPId"], 0) + 1
    return vouchers, articles
