"""The deterministic Tadbir demo generator (tadbir_demo)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal

import jdatetime
import pytest
import sqlalchemy as sa

from hamgam.tadbir import schema
from tadbir_demo import build_demo, fill_company, generate_company
from tadbir_demo.__main__ import main

# A tiny local normaliser (the project's real one lives elsewhere): Saman and Persian digits → ASCII.
SAMAN = "\u00b9\u00b1\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030"
PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
TO_ASCII = str.maketrans(SAMAN + PERSIAN, "0123456789" * 2)
ARABIC_YEH_KAF = "يك"


def ascii_digits(text: str) -> str:
    return text.translate(TO_ASCII)


def valid_national_code(code: str) -> bool:
    """Iranian national code: 10 digits, check digit from the first nine, mod 11."""
    if not re.fullmatch(r"\d{10}", code) or len(set(code)) == 1:
        return False
    r = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    return int(code[9]) == (r if r < 2 else 11 - r)


def valid_legal_id(code: str) -> bool:
    """Iranian legal-entity national id: 11 digits, weights 29 27 23 19 17, mod 11."""
    if not re.fullmatch(r"\d{11}", code):
        return False
    d = int(code[9]) + 2
    s = sum((d + int(code[i])) * (29, 27, 23, 19, 17)[i % 5] for i in range(10)) % 11
    return int(code[10]) == (0 if s == 10 else s)


def test_local_checksums_against_known_codes():
    assert valid_national_code("0499370899")
    assert not valid_national_code("0499370898")
    assert not valid_national_code("1111111111")
    assert valid_legal_id("10380284790")
    assert not valid_legal_id("10380284791")


def read_all(path) -> dict[str, list[tuple]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return {
                name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for name, t in schema.metadata.tables.items()
            }
    finally:
        engine.dispose()


def customers_of(path) -> list[dict]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            stmt = sa.select(schema.customer).order_by(schema.customer.c.FPId, schema.customer.c.Id)
            return [dict(r) for r in conn.execute(stmt).mappings()]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    summary = build_demo(out)
    elapsed = time.perf_counter() - started
    return out, summary, elapsed


@pytest.fixture(scope="module")
def company100(built):
    out, summary, _ = built
    return customers_of(out / "tadbir_100.sqlite"), summary["companies"][100]


def case_ids(company_summary: dict, kind: str) -> list[int]:
    return company_summary["dirty_customer_ids"][kind]


# -- build, determinism, speed ---------------------------------------------------------------------


def test_build_writes_one_database_per_company(built):
    out, summary, _ = built
    assert sorted(p.name for p in out.iterdir()) == ["tadbir_100.sqlite", "tadbir_200.sqlite"]
    assert set(summary["companies"]) == {100, 200}
    assert summary["seed"] == 1405 and summary["fiscal_years"] == [1403, 1404]
    json.dumps(summary, ensure_ascii=False)  # serialisable
    for code, company in summary["companies"].items():
        content = read_all(out / f"tadbir_{code}.sqlite")
        assert company["counts"] == {name: len(rows) for name, rows in content.items()}


def test_scale_1_builds_fast(built):
    assert built[2] < 2.0


def test_same_seed_and_scale_give_identical_content(built, tmp_path):
    out, summary, _ = built
    again = build_demo(tmp_path)
    for code in (100, 200):
        first, second = out / f"tadbir_{code}.sqlite", tmp_path / f"tadbir_{code}.sqlite"
        assert read_all(first) == read_all(second)
        assert first.read_bytes() == second.read_bytes()
        a = {k: v for k, v in summary["companies"][code].items() if k != "database"}
        b = {k: v for k, v in again["companies"][code].items() if k != "database"}
        assert a == b


def test_build_overwrites(tmp_path):
    (tmp_path / "tadbir_100.sqlite").write_bytes(b"not a database")
    build_demo(tmp_path, companies=(100,))
    assert read_all(tmp_path / "tadbir_100.sqlite")["__Customer__"]


def test_companies_and_seeds_differ(built):
    out, _, _ = built
    a, b = read_all(out / "tadbir_100.sqlite"), read_all(out / "tadbir_200.sqlite")
    assert a["__Customer__"] != b["__Customer__"]
    assert a["__Merchandise__"] != b["__Merchandise__"]
    rows, _ = generate_company(100, seed=1406)
    assert rows["__Customer__"] != generate_company(100, seed=1405)[0]["__Customer__"]


def test_fill_company_on_any_engine():
    engine = sa.create_engine("sqlite://")
    summary = fill_company(engine, 200, seed=7, scale=1, fiscal_years=(1402, 1403, 1404))
    with engine.connect() as conn:
        counted = {
            name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for name, t in schema.metadata.tables.items()
        }
        fps = conn.execute(sa.select(schema.fiscal_period.c.Name).order_by(schema.fiscal_period.c.Id)).scalars()
        assert list(fps) == ["سال مالی 1402", "سال مالی 1403", "سال مالی 1404"]
    assert counted == summary["counts"]
    assert counted["__Customer__"] == 3 * 120


def test_scale_multiplies():
    rows, summary = generate_company(100, scale=2)
    assert summary["counts"]["__Customer__"] == 2 * 2 * 120
    assert sum(1 for r in rows["__Merchandise__"] if not r["IsGroup"]) == 2 * 2 * 40
    with pytest.raises(ValueError):
        generate_company(100, scale=0)


def test_document_and_treasury_families_are_filled(company100):
    counts = company100[1]["counts"]  # details in test_demo_documents.py
    for name in ("__SPFactor__", "__SPArticle__", "__SPTax__", "__PayReceive__"):
        assert counts[name] > 0


def test_cli_prints_summary(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path), "--seed", "1405", "--scale", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["companies"]) == {"100", "200"}
    assert printed["companies"]["100"]["counts"]["__Customer__"] == 240


# -- fiscal periods --------------------------------------------------------------------------------


def test_fiscal_period_1403(built):
    out, _, _ = built
    rows = read_all(out / "tadbir_100.sqlite")["__FiscalPeriod__"]
    cols = [c.name for c in schema.fiscal_period.columns]
    periods = [dict(zip(cols, r, strict=True)) for r in rows]
    assert [p["Id"] for p in periods] == [1, 2]
    p1403 = periods[0]
    assert p1403["Name"] == "سال مالی 1403"
    assert p1403["StartDate"] == datetime(2024, 3, 20)
    assert p1403["EndDate"] == datetime(2025, 3, 20, 23, 59, 59)
    assert p1403["StartDate"].date() == jdatetime.date(1403, 1, 1).togregorian()
    last = jdatetime.date.fromgregorian(date=p1403["EndDate"].date())
    assert (last.year, last.month, last.day) == (1403, 12, 30)  # 1403 is a leap year
    assert periods[1]["StartDate"] == datetime(2025, 3, 21)
    assert jdatetime.date.fromgregorian(date=periods[1]["EndDate"].date()).day == 29


# -- customers -------------------------------------------------------------------------------------


def test_every_customer_in_every_fiscal_period(company100):
    rows, summary = company100
    by_fp: dict[int, list[dict]] = {}
    for r in rows:
        by_fp.setdefault(r["FPId"], []).append(r)
    assert sorted(by_fp) == [1, 2]
    assert len(by_fp[1]) == len(by_fp[2]) == 120
    assert Counter(r["SubscriptionNo"] for r in by_fp[1]) == Counter(r["SubscriptionNo"] for r in by_fp[2])
    renumbered = [c["customer_ids"] for c in summary["history_cases"] if c["case"] == "renumbered_in_newer_period"]
    assert renumbered
    old_ids = {r["Id"] for r in by_fp[1]}
    new_ids = {r["Id"] for r in by_fp[2]}
    assert old_ids - new_ids == {old for old, _ in renumbered}
    assert new_ids - old_ids == {new for _, new in renumbered}
    old_code = {r["Id"]: r["SubscriptionNo"] for r in by_fp[1]}
    new_code = {r["Id"]: r["SubscriptionNo"] for r in by_fp[2]}
    for old, new in renumbered:
        assert old_code[old] == new_code[new] != ""


def test_some_customers_edited_in_newer_period(company100):
    rows, summary = company100
    by_key = {(r["Id"], r["FPId"]): r for r in rows}
    edited = [c for c in summary["history_cases"] if c["case"] == "edited_in_newer_period"]
    assert len(edited) >= 3
    for case in edited:
        (cid,) = case["customer_ids"]
        old, new = by_key[(cid, 1)], by_key[(cid, 2)]
        assert any(old[f] != new[f] for f in case["fields"])
        assert old["SubscriptionNo"] == new["SubscriptionNo"]


def test_detail_account_per_customer(built):
    out, _, _ = built
    content = read_all(out / "tadbir_100.sqlite")
    detail_cols = [c.name for c in schema.detail_acc.columns]
    details = {(r[0], r[detail_cols.index("FPId")]): r for r in content["__DetailAcc__"]}
    for row in customers_of(out / "tadbir_100.sqlite"):
        assert (row["FAccId"], row["FPId"]) in details
        assert details[(row["FAccId"], row["FPId"])][1] == row["Name"]


def test_customer_field_shapes(company100):
    rows, summary = company100
    dirty = {i for ids in summary["dirty_customer_ids"].values() for i in ids}
    clean = [r for r in rows if r["Id"] not in dirty]
    assert {r["Type"] for r in rows} <= {0, 1, 2} and Counter(r["Type"] for r in rows).most_common(1)[0][0] == 2
    assert sum(r["Active"] for r in rows) > 0.8 * len(rows)
    assert any("@" in r["Email"] for r in clean) and any(r["Email"] == "" for r in clean)
    for r in clean:
        assert re.fullmatch(r"\d{5}", r["SubscriptionNo"])
        assert re.fullmatch(r"\d{10}", r["PostalCode"])
        assert r["PhoneNo"] == "" or re.fullmatch(r"0\d{2}-\d{8}", r["PhoneNo"])
        assert r["MobileNo"] == "" or re.fullmatch(r"09\d{9}", r["MobileNo"])
        assert r["Name"] and not any(ch in r["Name"] for ch in ARABIC_YEH_KAF)
        assert r["Province"] and r["City"]
        if len(r["RegisterCode"]) == 11:  # organization
            assert re.fullmatch(r"\d{12}", r["EcCode"])
    names = [r["Name"] for r in rows if r["FPId"] == 1]
    assert len(set(names)) == len(names)
    assert any(n.startswith(("شرکت ", "فروشگاه ", "بازرگانی ")) for n in names)


def test_national_codes_and_ids_validate(company100):
    rows, summary = company100
    invalid = set(case_ids(summary, "invalid_national_code"))
    persons = organizations = 0
    for r in rows:
        code = ascii_digits(r["RegisterCode"])
        if r["Id"] in invalid:
            assert re.fullmatch(r"\d{10}", code) and not valid_national_code(code)
        elif len(code) == 10:
            assert valid_national_code(code), r
            persons += 1
        else:
            assert valid_legal_id(code), r
            organizations += 1
    assert persons > 30 and organizations > 30


# -- dirty cases -----------------------------------------------------------------------------------


def _rows_for(rows: list[dict], ids: list[int]) -> list[dict]:
    assert ids
    found = [r for r in rows if r["Id"] in set(ids)]
    assert {r["Id"] for r in found} == set(ids)
    return found


def test_dirty_cases_are_listed(company100):
    _, summary = company100
    kinds = {c["case"] for c in summary["dirty_cases"]}
    assert kinds == {
        "arabic_letters_in_name", "saman_digits_in_subscription_no", "saman_digits_in_phone_no",
        "saman_digits_in_register_code", "persian_digits_mobile_entered", "multiple_phone_numbers",
        "invalid_national_code", "empty_subscription_no", "subscription_no_collision",
        "postal_code_9_digits", "empty_name",
    }
    for case in summary["dirty_cases"]:
        assert case["customer_ids"] and case["fields"] and len(case["values"]) == len(case["customer_ids"])
    all_ids = [i for ids in summary["dirty_customer_ids"].values() for i in ids]
    assert len(all_ids) == len(set(all_ids))  # one kind of dirt per customer


def test_arabic_letters_in_names(company100):
    rows, summary = company100
    for r in _rows_for(rows, case_ids(summary, "arabic_letters_in_name")):
        assert any(ch in r["Name"] for ch in ARABIC_YEH_KAF)
        assert "ی" not in r["Name"] and "ک" not in r["Name"]


@pytest.mark.parametrize(
    "kind,column",
    [
        ("saman_digits_in_subscription_no", "SubscriptionNo"),
        ("saman_digits_in_phone_no", "PhoneNo"),
        ("saman_digits_in_register_code", "RegisterCode"),
    ],
)
def test_saman_digits(company100, kind, column):
    rows, summary = company100
    for r in _rows_for(rows, case_ids(summary, kind)):
        value = r[column]
        assert any(ch in SAMAN for ch in value) and not any(ch.isascii() and ch.isdigit() for ch in value)
        decoded = ascii_digits(value)
        if column == "RegisterCode":
            assert valid_national_code(decoded) or valid_legal_id(decoded)
        elif column == "PhoneNo":
            assert re.fullmatch(r"0\d{2}-\d{8}", decoded)
        else:
            assert re.fullmatch(r"\d{5}", decoded)
    assert "\u00b9" in "".join(r["SubscriptionNo"] + r["PhoneNo"] + r["RegisterCode"] for r in rows)


def test_persian_digits_in_mobile_entered_rows(company100):
    rows, summary = company100
    for r in _rows_for(rows, case_ids(summary, "persian_digits_mobile_entered")):
        assert all(ch in PERSIAN for ch in r["SubscriptionNo"])
        assert any(ch in PERSIAN for ch in r["PhoneNo"] + r["MobileNo"])
        assert any(ch in PERSIAN for ch in r["RegisterCode"])
        assert re.fullmatch(r"\d{5}", ascii_digits(r["SubscriptionNo"]))


def test_multiple_phone_numbers(company100):
    rows, summary = company100
    seen_separators = set()
    for r in _rows_for(rows, case_ids(summary, "multiple_phone_numbers")):
        parts = [p for p in re.split(r"[ ,،]+", r["PhoneNo"]) if p]
        assert len(parts) >= 2
        assert all(re.fullmatch(r"0\d{2}-\d{8}|09\d{9}", p) for p in parts)
        seen_separators |= {sep for sep in (" ", ",", "،") if sep in r["PhoneNo"]}
    assert seen_separators == {" ", ",", "،"}


def test_empty_subscription_no_name_and_short_postal_code(company100):
    rows, summary = company100
    assert all(r["SubscriptionNo"] == "" for r in _rows_for(rows, case_ids(summary, "empty_subscription_no")))
    assert all(r["Name"] == "" for r in _rows_for(rows, case_ids(summary, "empty_name")))
    for r in _rows_for(rows, case_ids(summary, "postal_code_9_digits")):
        assert re.fullmatch(r"\d{9}", r["PostalCode"])


def test_subscription_no_collisions(company100):
    rows, summary = company100
    pairs = [c["customer_ids"] for c in summary["dirty_cases"] if c["case"] == "subscription_no_collision"]
    assert len(pairs) >= 1
    code = {(r["Id"], r["FPId"]): r["SubscriptionNo"] for r in rows}
    encodings = set()
    for first, second in pairs:
        a, b = code[(first, 1)], code[(second, 1)]
        assert a != b and a.isascii()
        assert ascii_digits(a) == ascii_digits(b)
        encodings.add("persian" if b[0] in PERSIAN else "saman" if b[0] in SAMAN else "?")
    assert encodings == {"persian", "saman"}
    # Apart from the collisions and the empty codes, normalised codes are unique per period.
    normalised = Counter(ascii_digits(r["SubscriptionNo"]) for r in rows if r["FPId"] == 1 and r["SubscriptionNo"])
    assert {c for c, n in normalised.items() if n > 1} == {ascii_digits(code[(f, 1)]) for f, _ in pairs}


# -- products and the rest -------------------------------------------------------------------------


def test_products_prices_tax_stock_and_brokers(built):
    out, _, _ = built
    engine = sa.create_engine(f"sqlite:///{out / 'tadbir_100.sqlite'}")
    try:
        with engine.connect() as conn:
            def select(table):
                return [dict(r) for r in conn.execute(sa.select(table)).mappings()]

            units = select(schema.unit)
            merch = select(schema.merchandise)
            prices = select(schema.sales_price)
            taxes = select(schema.merch_tax)
            rooms = select(schema.stock_room)
            qty = select(schema.merch_stock_qty)
            brokers = select(schema.broker)
    finally:
        engine.dispose()
    assert {u["Name"] for u in units} == {"عدد", "کیلوگرم", "متر", "بسته"}
    for fp in (1, 2):
        items = [m for m in merch if m["FPId"] == fp and not m["IsGroup"]]
        groups = [m for m in merch if m["FPId"] == fp and m["IsGroup"] == 1]
        assert len(items) == 40 and len(groups) >= 2
        assert len({m["Code"] for m in items}) == 40
        assert {m["UnitId"] for m in items} <= {u["Id"] for u in units}
        item_ids = {m["Id"] for m in items}
        fp_prices = {p["MerchId"]: p for p in prices if p["FPId"] == fp}
        assert set(fp_prices) == item_ids and all(p["Type"] == 1 and p["Val2"] > 0 for p in fp_prices.values())
        fp_taxes = [t for t in taxes if t["FPId"] == fp]
        assert {t["MerchId"] for t in fp_taxes} == item_ids
        assert all(t["TaxPercent"] == Decimal(9) and t["EffectDate"] == datetime(2020, 3, 20) for t in fp_taxes)
        assert len([r for r in rooms if r["FPId"] == fp]) == 2
        assert len([b for b in brokers if b["FPId"] == fp]) == 3
        fp_qty = [q for q in qty if q["FPId"] == fp]
        assert {q["MerchId"] for q in fp_qty} == item_ids and {q["StockRoomId"] for q in fp_qty} == {1, 2}
    price = {(p["MerchId"], p["FPId"]): p["Val2"] for p in prices}
    assert all(price[(m, 2)] > price[(m, 1)] for m, fp in price if fp == 1)  # yearly inflation
