"""Brokers/sellers (``__Broker__``) and their detail accounts."""

from __future__ import annotations

import random
from decimal import Decimal

from . import codes, names, places
from .accounts import BROKER_ACC, BROKERS_GROUP_CODE, broker_detail_id, detail_row
from .fiscal import Period

BROKERS = 3
COMMISSIONS = (Decimal("1.5"), Decimal("2"), Decimal("2.5"))


def broker_rows(rng: random.Random, periods: list[Period]) -> tuple[list[dict], list[dict]]:
    people = []
    used: set[str] = set()
    while len(people) < BROKERS:
        name = names.person_name(rng)[0]
        if name not in used:
            used.add(name)
            people.append((name, codes.mobile(rng), places.address(rng)))
    brokers, details = [], []
    for fp in periods:
        for bid, (name, phone, address) in enumerate(people, start=1):
            brokers.append(
                {
                    "Id": bid, "Name": name, "PhoneNo": phone, "FaxNo": "", "Email": "", "EcCode": "",
                    "Address": address, "ZipCode": "0", "BDesc": "فروشنده", "AccId": BROKER_ACC,
                    "FAccId": broker_detail_id(bid), "CostAccId": "0", "CostFAccId": 0,
                    "IncomeAccId": "0", "IncomeFAccId": 0, "CommissionPercent": COMMISSIONS[bid - 1],
                    "CommissionAmount": 0, "CurrencyVal": 0, "CurrencyId": 0, "InitBal": 0,
                    "UserId": 1, "SecId": 0, "Type": 0, "LRes": 0, "DRes": 0.0, "TRes": "",
                    "FPId": fp.id, "CCId": 0, "PrjId": 0, "CostCCId": 0, "CostPrjId": 0,
                    "IncomeCCId": 0, "IncomePrjId": 0,
                }
            )
            details.append(detail_row(broker_detail_id(bid), name, fp, codes=(BROKERS_GROUP_CODE, f"{bid:03d}")))
    return brokers, details
