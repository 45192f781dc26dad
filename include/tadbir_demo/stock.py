"""Warehouses (``__StockRoom__``) and per-warehouse quantities (``__MerchStockQty__``)."""

from __future__ import annotations

import random
from decimal import Decimal

from . import names
from .accounts import INVENTORY_ACC
from .catalog import FRACTIONAL_UNITS
from .fiscal import Period
from .products import Catalog

STOCK_ROOM_NAMES = ("انبار مرکزی", "انبار شماره 2")
_QTY = Decimal("0.0001")


def stock_room_rows(rng: random.Random, periods: list[Period]) -> list[dict]:
    managers = [names.person_name(rng)[0] for _ in STOCK_ROOM_NAMES]
    return [
        {
            "Id": sid, "Code": sid, "Name": name, "ManagerName": manager, "SRDesc": "",
            "LRes": 0, "DRes": 0.0, "TRes": "", "AccountId": INVENTORY_ACC, "FPId": fp.id,
            "FAccId": 0, "CCId": 0, "PrjId": 0,
        }
        for fp in periods
        for sid, (name, manager) in enumerate(zip(STOCK_ROOM_NAMES, managers, strict=True), start=1)
    ]


def _quantity(rng: random.Random, unit_id: int, *, empty: float, high: int) -> Decimal:
    if rng.random() < empty:
        return Decimal(0).quantize(_QTY)
    if unit_id in FRACTIONAL_UNITS:
        return (Decimal(rng.randint(10, high * 10)) / 10).quantize(_QTY)
    return Decimal(rng.randint(1, high)).quantize(_QTY)


def stock_qty_rows(rng: random.Random, catalog: Catalog, periods: list[Period]) -> list[dict]:
    """Quantity of every product in each warehouse; the second warehouse is smaller and emptier."""
    rows = []
    for fp in periods:
        for p in catalog.products:
            for sid, (empty, high) in enumerate(((0.15, 500), (0.4, 120)), start=1):
                rows.append(
                    {"MerchId": p.id, "StockRoomId": sid, "FPId": fp.id,
                     "Qty": _quantity(rng, p.unit_id, empty=empty, high=high)}
                )
    return rows
