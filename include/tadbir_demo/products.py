"""Units, merchandise (with group rows), sales prices and VAT rows, per fiscal period."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from . import codes
from .accounts import GOODS_ACC
from .catalog import FAMILIES, UNITS
from .fiscal import Period, jalali_to_gregorian

GROUPS_PER_COMPANY = 3
PRODUCTS_PER_SCALE = 40
PRICE_LEVEL = 1  # __SalesPrice__.Type = __Customer__.LRes
VAT_PERCENT = Decimal("9")
TOLL_PERCENT = Decimal("1")
VAT_EFFECT_DATE = datetime.combine(jalali_to_gregorian(1399, 1, 1), datetime.min.time())


@dataclass(frozen=True)
class Product:
    id: int
    code: str
    name: str
    unit_id: int
    group_code: str
    base_price: int  # Rials in the oldest period
    barcode: str


@dataclass(frozen=True)
class Group:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Catalog:
    groups: list[Group]
    products: list[Product]


def generate_catalog(rng: random.Random, scale: int) -> Catalog:
    """A company's catalog: a few product families, about 40 products per scale unit."""
    families = rng.sample(FAMILIES, GROUPS_PER_COMPANY)
    groups = [Group(i, str(i), f.group_name) for i, f in enumerate(families, start=1)]
    pool = [(g, item) for g, f in zip(groups, families, strict=True) for item in f.expand()]
    wanted = PRODUCTS_PER_SCALE * scale
    picked = rng.sample(pool, min(wanted, len(pool)))
    model = 2
    while len(picked) < wanted:  # large scales: model variants of the same items
        picked += [(g, (f"{name} مدل {model}", u, p)) for g, (name, u, p) in pool][: wanted - len(picked)]
        model += 1
    picked.sort(key=lambda gi: (gi[0].id, gi[1][0]))
    products = []
    seq_in_group: dict[int, int] = {}
    for merch_id, (group, (name, unit_id, base_price)) in enumerate(picked, start=len(groups) + 1):
        seq = seq_in_group[group.id] = seq_in_group.get(group.id, 0) + 1
        price = _round_price(base_price * rng.uniform(0.85, 1.15))
        products.append(
            Product(merch_id, f"{group.code}{seq:03d}", name, unit_id, group.code, price, codes.ean13(rng))
        )
    return Catalog(groups, products)


def _round_price(value: float) -> int:
    return max(1000, int(round(value / 1000.0)) * 1000)


def price_list(rng: random.Random, catalog: Catalog, periods: list[Period]) -> dict[tuple[int, int], int]:
    """Price per (product Id, FPId): the base price, then yearly inflation of 25-45%."""
    prices: dict[tuple[int, int], int] = {}
    for p in catalog.products:
        price = p.base_price
        for index, fp in enumerate(periods):
            if index:
                price = _round_price(price * rng.uniform(1.25, 1.45))
            prices[(p.id, fp.id)] = price
    return prices


def unit_rows(periods: list[Period]) -> list[dict]:
    return [
        {"Id": uid, "Name": name, "UDesc": "", "LRes": 0, "DRes": 0.0, "TRes": "", "FPId": fp.id}
        for fp in periods
        for uid, name in UNITS
    ]


def _merch_row(fp: Period, **values) -> dict:
    row = {
        "Id": 0, "Code": "", "Name": "", "UnitId": 0, "MType": 0, "ValuationId": 0,
        "Inventory": 0, "MaxInventory": 0, "MinInventory": 0, "OrderLimit": 0,
        "UnitPrice": 0, "MaxPrice": 0, "MinPrice": 0, "BarCode": "", "MDesc": "", "MPicture": "",
        "LRes": 0, "DRes": 0.0, "TRes": "", "AccountId": "0", "MLevel": 1, "IsGroup": 0,
        **{f"G{i}": "" for i in range(1, 8)},
        "FPId": fp.id, "PartNo": "", "SpecNo": "", "Model": "", "ExType": "", "ManufactYear": 0,
        "OpCond": "", "ReservedTxt1": "", "ReservedTxt2": "", "ReservedTxt3": "",
        "ReservedDbl1": 0.0, "ReservedDbl2": 0.0, "ReservedDT1": None,
    }
    row.update(values)
    return row


def merchandise_rows(catalog: Catalog, periods: list[Period], prices: dict) -> list[dict]:
    rows = []
    for fp in periods:
        for g in catalog.groups:
            rows.append(_merch_row(fp, Id=g.id, Code=g.code, Name=g.name, MLevel=1, IsGroup=1, G1=g.code))
        for p in catalog.products:
            price = prices[(p.id, fp.id)]
            rows.append(
                _merch_row(
                    fp, Id=p.id, Code=p.code, Name=p.name, UnitId=p.unit_id, AccountId=GOODS_ACC,
                    MLevel=2, G1=p.group_code, BarCode=p.barcode, UnitPrice=price,
                    MaxPrice=_round_price(price * 1.15), MinPrice=_round_price(price * 0.9),
                    MinInventory=Decimal(10), MaxInventory=Decimal(1000),
                )
            )
    return rows


def sales_price_rows(catalog: Catalog, periods: list[Period], prices: dict) -> list[dict]:
    return [
        {
            "Id": p.id, "MerchId": p.id, "Val1": prices[(p.id, fp.id)], "Val2": prices[(p.id, fp.id)],
            "Type": PRICE_LEVEL, "LRes": 0, "DRes": 0.0, "TRes": "", "FPId": fp.id,
        }
        for fp in periods
        for p in catalog.products
    ]


def merch_tax_rows(catalog: Catalog, periods: list[Period]) -> list[dict]:
    return [
        {
            "Id": n, "MerchId": p.id, "TaxPercent": VAT_PERCENT,
            # the first family also pays the municipal toll, so documents show tolls too
            "AvarezPercent": TOLL_PERCENT if p.group_code == catalog.groups[0].code else Decimal(0),
            "FPId": fp.id, "EffectDate": VAT_EFFECT_DATE,
        }
        for fp in periods
        for n, p in enumerate(catalog.products, start=1)
    ]
