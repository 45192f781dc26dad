"""Documents (quotes, sales invoices, sales returns, purchase invoices, purchase returns) and treasury rows of the
Tadbir demo generator."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from hamgam.tadbir import schema
from tadbir_demo import build_demo, generate_company

QUOTE, SALES, SALES_RETURN, PURCHASE, PURCHASE_RETURN = 4, 1, 3, 0, 2
RETURNED = {SALES_RETURN: SALES, PURCHASE_RETURN: PURCHASE}  # a return's type -> the type it returns
RECEIPT, PAYMENT = 0, 1
DOCUMENT_CASES = {
    "no_lines", "cancelled", "customer_missing", "invalid_customer", "total_mismatch", "negative_line",
    "date_outside_period",
}
TREASURY_CASES = {
    "receipt_negative_amount", "cheque_without_number", "receipt_date_outside_period", "treasury_customer_missing",
}


def rial(value) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def load(path) -> dict[str, list[dict]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {
                name: [dict(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()]
                for name, t in schema.metadata.tables.items()
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    summary = build_demo(out)
    return {code: (load(out / f"tadbir_{code}.sqlite"), summary["companies"][code]) for code in (100, 200)}


@pytest.fixture(params=[100, 200], scope="module")
def company(request, demo):
    return demo[request.param]


def cases_of(summary: dict, table: str = "__SPFactor__") -> dict[tuple[int, int], set[str]]:
    """(FPId, Id) -> case names listed for that row."""
    out: dict[tuple[int, int], set[str]] = defaultdict(set)
    for case in summary["document_cases"]:
        if case["table"] == table:
            out[(case["fpid"], case["id"])].add(case["case"])
    return out


def periods_of(tables) -> dict[int, dict]:
    return {p["Id"]: p for p in tables["__FiscalPeriod__"]}


def lines_by_doc(tables) -> dict[tuple[int, int], list[dict]]:
    out: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for line in tables["__SPArticle__"]:
        out[(line["FPId"], line["SPId"])].append(line)
    return out


def by_key(rows: list[dict]) -> dict[tuple[int, int], dict]:
    return {(r["FPId"], r["Id"]): r for r in rows}


# -- counts, numbering, dates ----------------------------------------------------------------------


def test_counts_and_numbering_per_period_and_type(company):
    tables, summary = company
    docs = tables["__SPFactor__"]
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for d in docs:
        numbers[(d["FPId"], d["FactorType"])].append(d["FactorNo"])
    assert set(numbers) == {(fp, t) for fp in (1, 2) for t in (QUOTE, SALES, SALES_RETURN, PURCHASE, PURCHASE_RETURN)}
    expected = {QUOTE: 20, SALES: 30, SALES_RETURN: 6, PURCHASE: 12, PURCHASE_RETURN: 4}
    for (fp, t), nos in numbers.items():
        assert sorted(nos) == list(range(1, expected[t] + 1)), (fp, t)
    for fp in (1, 2):
        ids = [d["Id"] for d in docs if d["FPId"] == fp]
        assert len(ids) == len(set(ids))
        counts = summary["documents"][fp]
        assert counts == {"year": 1402 + fp, "quote": 20, "sales_invoice": 30, "sales_return": 6,
                          "purchase_invoice": 12, "purchase_return": 4, "receipt": 15, "payment": 10}
    # numbers follow the entry order within each type
    for key in numbers:
        ordered = sorted((d for d in docs if (d["FPId"], d["FactorType"]) == key), key=lambda d: d["FactorNo"])
        assert [d["ETime"] for d in ordered] == sorted(d["ETime"] for d in ordered)


def test_document_dates_inside_their_period(company):
    tables, summary = company
    periods = periods_of(tables)
    listed = cases_of(summary)
    outside = 0
    for d in tables["__SPFactor__"]:
        fp = periods[d["FPId"]]
        assert d["SPDate"] == d["SPDate"].replace(hour=0, minute=0, second=0, microsecond=0)
        assert d["EDate"] == d["ETime"].replace(hour=0, minute=0, second=0)
        assert fp["StartDate"] <= d["ETime"] <= fp["EndDate"]
        if "date_outside_period" in listed[(d["FPId"], d["Id"])]:
            assert not fp["StartDate"] <= d["SPDate"] <= fp["EndDate"]
            outside += 1
        else:
            assert fp["StartDate"] <= d["SPDate"] <= fp["EndDate"]
            assert timedelta(0) <= d["ETime"] - d["SPDate"] < timedelta(days=4)
    assert outside == 4  # a sales and a purchase invoice per period


# -- lines and amounts -----------------------------------------------------------------------------


def test_lines_reference_master_data_of_their_period(company):
    tables, summary = company
    headers = by_key(tables["__SPFactor__"])
    merch = {(m["FPId"], m["Id"]): m for m in tables["__Merchandise__"]}
    rooms = {(r["FPId"], r["Id"]) for r in tables["__StockRoom__"]}
    prices = {(p["FPId"], p["MerchId"], p["Type"]): p["Val2"] for p in tables["__SalesPrice__"]}
    customers = by_key(tables["__Customer__"])
    assert tables["__SPArticle__"]
    assert len({(a["FPId"], a["Id"]) for a in tables["__SPArticle__"]}) == len(tables["__SPArticle__"])
    for a in tables["__SPArticle__"]:
        fp = a["FPId"]
        header = headers[(fp, a["SPId"])]
        product = merch[(fp, a["MerchandiseId"])]
        assert product["IsGroup"] == 0
        assert a["UnitId"] == product["UnitId"]
        assert (fp, a["StockRoomId"]) in rooms
        customer = customers.get((fp, header["CustomerId"]))
        level = customer["LRes"] if customer else 1
        assert abs(a["UnitPrice"]) == prices[(fp, a["MerchandiseId"], level)]
        if a["UnitId"] in (1, 4):  # each, pack: whole quantities
            assert a["Amount"] == a["Amount"].to_integral_value()


def test_line_amount_formulas(company):
    tables, _ = company
    taxed = 0
    for a in tables["__SPArticle__"]:
        gross = a["Amount"] * a["UnitPrice"]
        assert a["Remainder"] in {rial(gross * pct / 100) for pct in (0, 2, 5, 10)}
        assert a["T1"] == rial((gross - a["Remainder"]) * 9 / Decimal(100))  # every demo product: VAT 9%
        assert a["T2"] in {0, rial((gross - a["Remainder"]) * 1 / Decimal(100))}  # the first family: 1% toll
        assert a["NetPrice"] == rial(gross - a["Remainder"] + a["T1"] + a["T2"])
        taxed += a["T1"] != 0
    assert taxed > 0.9 * len(tables["__SPArticle__"])
    assert any(a["T2"] > 0 for a in tables["__SPArticle__"])
    assert Counter(a["Remainder"] == 0 for a in tables["__SPArticle__"])[True] > 0.7 * len(tables["__SPArticle__"])
    assert any(a["Amount"] != a["Amount"].to_integral_value() for a in tables["__SPArticle__"])  # kg/metre


def test_header_totals_and_tax_rows(company):
    tables, summary = company
    listed = cases_of(summary)
    lines = lines_by_doc(tables)
    taxes: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for t in tables["__SPTax__"]:
        taxes[(t["FPId"], t["SPId"])].append(t)
    mismatched = 0
    for d in tables["__SPFactor__"]:
        key = (d["FPId"], d["Id"])
        doc_lines = lines[key]
        total = rial(sum((a["Amount"] * a["UnitPrice"] for a in doc_lines), Decimal(0)))
        if "total_mismatch" in listed[key]:
            assert abs(d["Total"] - total) >= 1_000_000
            mismatched += 1
        else:
            assert d["Total"] == total, key
        assert d["Discount"] == sum(a["Remainder"] for a in doc_lines)
        assert d["Expense"] >= 0 and d["Expense"] % 100_000 == 0
        vat, toll = sum(a["T1"] for a in doc_lines), sum(a["T2"] for a in doc_lines)
        expected = [(desc, amount) for desc, amount in (("مالیات بر ارزش افزوده", vat), ("عوارض", toll)) if amount]
        assert sorted((t["SPTaxDesc"], t["TaxAmount"]) for t in taxes[key]) == sorted(expected)
        assert d["TEnable"] == (1 if expected else 0) and d["TRS"] == d["FPId"]
        if d["BrokerId"]:
            assert d["BrokerShare"] == rial((d["Total"] - d["Discount"]) * d["BrokerPercent"] / 100)
    assert mismatched == 4  # a sales and a purchase invoice per period
    assert any(d["Expense"] for d in tables["__SPFactor__"])
    assert 1 <= max(len(v) for v in lines.values()) <= 5


# -- customers and brokers -------------------------------------------------------------------------


def test_customers_and_brokers_of_the_same_period(company):
    tables, summary = company
    listed = cases_of(summary)
    customers = by_key(tables["__Customer__"])
    brokers = {(b["FPId"], b["Id"]) for b in tables["__Broker__"]}
    dirty = {i for ids in summary["dirty_customer_ids"].values() for i in ids}
    invalid = set(summary["dirty_customer_ids"]["invalid_national_code"])
    for d in tables["__SPFactor__"]:
        key = (d["FPId"], d["Id"])
        customer = customers.get((d["FPId"], d["CustomerId"]))
        assert d["BrokerId"] == 0 or (d["FPId"], d["BrokerId"]) in brokers
        if "customer_missing" in listed[key]:
            assert customer is None and d["CustomerName"]
            assert all((fp, d["CustomerId"]) not in customers for fp in (1, 2))
            continue
        assert customer is not None, key
        assert d["CustomerName"] == customer["Name"] and d["CustomerAddress"] == customer["Address"]
        assert d["FAccId"] == customer["FAccId"]
        if "invalid_customer" in listed[key]:
            assert d["CustomerId"] in invalid
        else:
            assert d["CustomerId"] not in dirty, key


def test_newest_period_documents_use_newest_period_customer_ids(company):
    tables, summary = company
    ids_2 = {r["Id"] for r in tables["__Customer__"] if r["FPId"] == 2}
    assert {d["CustomerId"] for d in tables["__SPFactor__"] if d["FPId"] == 2} - ids_2 == {
        c["customer_id"] for c in summary["document_cases"] if c["case"] == "customer_missing" and c["fpid"] == 2
    }


# -- sales returns ---------------------------------------------------------------------------------


def test_returns_reference_an_invoice_of_the_same_period_and_customer(company):
    tables, summary = company
    listed = cases_of(summary)
    headers = by_key(tables["__SPFactor__"])
    lines = lines_by_doc(tables)
    referenced = unreferenced = 0
    for d in tables["__SPFactor__"]:
        if d["FactorType"] not in RETURNED:
            assert d["SPReference"] == 0
            continue
        key = (d["FPId"], d["Id"])
        if d["SPReference"] == 0:
            assert listed[key] == {"return_without_invoice"}
            unreferenced += 1
            continue
        invoice = headers[(d["FPId"], d["SPReference"])]
        assert invoice["FactorType"] == RETURNED[d["FactorType"]] and invoice["CustomerId"] == d["CustomerId"]
        assert invoice["Cancelled"] == 0 and invoice["SPDate"] < d["SPDate"] and invoice["ETime"] < d["ETime"]
        original = {(a["MerchandiseId"], a["StockRoomId"]): a for a in lines[(d["FPId"], invoice["Id"])]}
        assert lines[key]
        for a in lines[key]:
            src = original[(a["MerchandiseId"], a["StockRoomId"])]
            assert 0 < a["Amount"] <= src["Amount"] and a["UnitPrice"] == src["UnitPrice"]
        referenced += 1
    assert unreferenced == 4 and referenced == 16  # sales: 2 and 10, purchases: 2 and 6


# -- dirt ------------------------------------------------------------------------------------------


def test_every_document_case_is_listed_and_present(company):
    tables, summary = company
    headers = by_key(tables["__SPFactor__"])
    lines = lines_by_doc(tables)
    customers = by_key(tables["__Customer__"])
    periods = periods_of(tables)
    for case in summary["document_cases"]:
        assert {"case", "table", "fpid", "kind", "number", "id", "customer_id", "note"} <= set(case)
    per_period: dict[int, Counter] = defaultdict(Counter)
    for case in summary["document_cases"]:
        if case["table"] != "__SPFactor__":
            continue
        key = (case["fpid"], case["id"])
        d = headers[key]
        assert (d["FactorType"], d["FactorNo"], d["CustomerId"]) == (
            case["factor_type"], case["number"], case["customer_id"]
        )
        per_period[case["fpid"]][case["case"]] += 1
        kind = case["case"]
        if kind == "no_lines":
            assert not lines[key] and d["Total"] == 0
        elif kind == "cancelled":
            assert d["Cancelled"] == 1
        elif kind == "customer_missing":
            assert key[0:1] + (d["CustomerId"],) not in customers
        elif kind == "negative_line":
            assert any(a["Amount"] < 0 or a["UnitPrice"] < 0 for a in lines[key])
        elif kind == "date_outside_period":
            fp = periods[d["FPId"]]
            assert not fp["StartDate"] <= d["SPDate"] <= fp["EndDate"]
    for fp in (1, 2):
        assert DOCUMENT_CASES <= set(per_period[fp]), fp
        assert per_period[fp]["return_without_invoice"] == 2  # a sales and a purchase return
    # the second fiscal period also has a cancelled sales invoice
    cancelled = {(c["fpid"], c["factor_type"]) for c in summary["document_cases"] if c["case"] == "cancelled"}
    assert (2, SALES) in cancelled
    # nothing dirty goes unlisted
    listed = cases_of(summary)
    for d in tables["__SPFactor__"]:
        key = (d["FPId"], d["Id"])
        assert bool(lines[key]) or "no_lines" in listed[key]
        assert d["Cancelled"] == 0 or "cancelled" in listed[key]
        negative = any(a["Amount"] < 0 or a["UnitPrice"] < 0 for a in lines[key])
        assert negative == ("negative_line" in listed[key])
        assert d["Committed"] in (0, 1)


def test_dirt_stays_well_below_half_of_every_batch(company):
    tables, summary = company
    listed = cases_of(summary)
    dirt = DOCUMENT_CASES - {"cancelled"}
    for fp in (1, 2):
        docs = [d for d in tables["__SPFactor__"] if d["FPId"] == fp]
        bad = [d for d in docs if listed[(fp, d["Id"])] & dirt]
        assert 0.08 <= len(bad) / len(docs) <= 0.15
        for t in (QUOTE, SALES, SALES_RETURN):
            of_type = [d for d in docs if d["FactorType"] == t]
            assert sum(1 for d in bad if d["FactorType"] == t) / len(of_type) <= 0.25


# -- treasury --------------------------------------------------------------------------------------


def test_treasury_rows(company):
    tables, summary = company
    rows = tables["__PayReceive__"]
    listed = cases_of(summary, "__PayReceive__")
    periods = periods_of(tables)
    customers = by_key(tables["__Customer__"])
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for r in rows:
        numbers[(r["FPId"], r["Type"])].append(r["No"])
        cases = listed[(r["FPId"], r["Id"])]
        fp = periods[r["FPId"]]
        assert r["Date"] == r["Date"].replace(hour=0, minute=0, second=0)
        assert r["EDate"] == r["ETime"].replace(hour=0, minute=0, second=0)
        assert fp["StartDate"] <= r["ETime"] <= fp["EndDate"]
        assert (fp["StartDate"] <= r["Date"] <= fp["EndDate"]) == ("receipt_date_outside_period" not in cases)
        assert (r["Amount"] > 0) == ("receipt_negative_amount" not in cases)
        if r["CustomerId"] == 0:
            assert cases == {"not_linked_to_customer"}
        elif "treasury_customer_missing" in cases:
            assert (r["FPId"], r["CustomerId"]) not in customers
        else:
            assert (r["FPId"], r["CustomerId"]) in customers
        assert r["Kind"] in (0, 1) and r["Status"] in (0, 1, 2) and r["Description"]
        if r["Kind"] == 0:
            assert r["ChequeNo"] == "" and r["ChequeDate"] is None and r["Status"] == 1
        else:
            assert r["ChequeDate"] is not None and r["ChequeDate"] >= r["Date"]
            if "cheque_without_number" in cases:
                assert r["ChequeNo"] == ""
            else:
                assert re.fullmatch(r"\d{16}", r["ChequeNo"])
    expected = {RECEIPT: 15, PAYMENT: 10}
    assert set(numbers) == {(fp, t) for fp in (1, 2) for t in (RECEIPT, PAYMENT)}
    for (fp, t), nos in numbers.items():
        assert sorted(nos) == list(range(1, expected[t] + 1))
        ids = [r["Id"] for r in rows if r["FPId"] == fp]
        assert len(ids) == len(set(ids))
    assert {r["Kind"] for r in rows} == {0, 1}
    assert {r["Status"] for r in rows if r["Kind"] == 1} >= {0, 1}
    for fp in (1, 2):
        kinds = Counter(c["case"] for c in summary["document_cases"]
                        if c["table"] == "__PayReceive__" and c["fpid"] == fp)
        assert TREASURY_CASES <= set(kinds) and kinds["not_linked_to_customer"] == 2
        receipts = {c["type"] for c in summary["document_cases"]
                    if c["table"] == "__PayReceive__" and c["case"].startswith("receipt_")}
        assert receipts == {RECEIPT}


def test_receipts_settle_invoices_of_their_period(company):
    tables, _ = company
    invoices = {(d["FPId"], d["FactorNo"]): d for d in tables["__SPFactor__"] if d["FactorType"] == SALES}
    settled = 0
    for r in tables["__PayReceive__"]:
        match = re.search(r"فاکتور فروش شماره (\d+)", r["Description"])
        if r["Type"] == RECEIPT and match:
            invoice = invoices[(r["FPId"], int(match.group(1)))]
            assert invoice["CustomerId"] == r["CustomerId"]
            settled += 1
    assert settled >= 10


# -- summary, determinism, scale -------------------------------------------------------------------


def test_summary_is_serialisable_and_counts_match(demo):
    for tables, summary in demo.values():
        json.dumps(summary, ensure_ascii=False)
        assert summary["counts"]["__SPFactor__"] == len(tables["__SPFactor__"]) == 144
        assert summary["counts"]["__PayReceive__"] == len(tables["__PayReceive__"]) == 50


def test_same_seed_same_documents_other_seed_other_documents():
    tables = ("__SPFactor__", "__SPArticle__", "__SPTax__", "__PayReceive__")
    a_rows, a_summary = generate_company(100)
    b_rows, b_summary = generate_company(100)
    for t in tables:
        assert a_rows[t] == b_rows[t]
    assert a_summary["document_cases"] == b_summary["document_cases"]
    c_rows, _ = generate_company(100, seed=1406)
    assert all(a_rows[t] != c_rows[t] for t in tables)


def test_scale_2_doubles_documents():
    rows, summary = generate_company(200, scale=2)
    for fp in (1, 2):
        counts = summary["documents"][fp]
        assert (counts["quote"], counts["sales_invoice"], counts["sales_return"]) == (40, 60, 12)
        assert (counts["receipt"], counts["payment"]) == (30, 20)
        assert (counts["purchase_invoice"], counts["purchase_return"]) == (24, 8)
        per_case = Counter(c["case"] for c in summary["document_cases"] if c["fpid"] == fp)
        assert all(per_case[k] >= 2 for k in DOCUMENT_CASES | TREASURY_CASES)
    factor_nos = [(d["FPId"], d["FactorType"], d["FactorNo"]) for d in rows["__SPFactor__"]]
    assert len(factor_nos) == len(set(factor_nos)) == 288
