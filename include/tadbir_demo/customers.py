"""Customers (``__Customer__``) and their detail accounts (``__DetailAcc__``).

A customer is generated once as a :class:`CustomerMaster` (clean values), may then be made dirty
(:mod:`tadbir_demo.dirt`) or edited in the newest period (:mod:`tadbir_demo.history`), and is
finally written once per fiscal period by :func:`customer_rows`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from . import codes, names, places
from .accounts import CUSTOMERS_GROUP_CODE, RECEIVABLES_ACC, customer_detail_id, detail_row
from .fiscal import Period, moment_in

PERSON, ORGANIZATION = "person", "organization"
CUSTOMERS_PER_SCALE = 120
PRICE_LEVEL = 1  # __Customer__.LRes = __SalesPrice__.Type

_DESCRIPTIONS = ("", "", "", "", "", "مشتری قدیمی", "تسویه نقدی", "معرفی از طرف نمایشگاه", "خرید عمده")


@dataclass
class CustomerMaster:
    id: int
    kind: str  # PERSON or ORGANIZATION
    city: places.City
    created: datetime  # entry stamp in the oldest period
    fields: dict[str, object] = field(default_factory=dict)  # column values shared by every period


@dataclass
class History:
    """How the newest fiscal period differs from the older ones (filled by :mod:`history`)."""

    edits: dict[int, dict[str, object]] = field(default_factory=dict)  # id -> changed columns
    edit_times: dict[int, datetime] = field(default_factory=dict)
    renumbered: dict[int, int] = field(default_factory=dict)  # old id -> Id in the newest period


def _unique(rng: random.Random, used: set[str], make) -> tuple[str, list[str]]:
    """Draw ``make(rng)`` until its name is unused; the app rejects duplicate customer names."""
    for _ in range(50):
        name, *rest = make(rng)
        if name not in used:
            used.add(name)
            return name, rest
    name, *rest = make(rng)
    name = f"{name} {len(used)}"
    used.add(name)
    return name, rest


def _person(rng: random.Random, city: places.City, used: set[str]) -> dict[str, object]:
    name, (first_latin, last_latin) = _unique(rng, used, names.person_name)
    return {
        "Name": name,
        "RegisterCode": codes.national_code(rng),
        "EcCode": "",
        "PhoneNo": codes.landline(rng, city.area_code) if rng.random() < 0.6 else "",
        "FaxNo": "",
        "MobileNo": codes.mobile(rng) if rng.random() < 0.9 else "",
        "Email": codes.person_email(rng, first_latin, last_latin) if rng.random() < 0.3 else "",
    }


def _organization(rng: random.Random, city: places.City, used: set[str]) -> dict[str, object]:
    name, (slug,) = _unique(rng, used, names.organization_name)
    return {
        "Name": name,
        "RegisterCode": codes.legal_id(rng),
        "EcCode": codes.economic_code(rng),
        "PhoneNo": codes.landline(rng, city.area_code) if rng.random() < 0.95 else "",
        "FaxNo": codes.landline(rng, city.area_code) if rng.random() < 0.3 else "",
        "MobileNo": codes.mobile(rng) if rng.random() < 0.4 else "",
        "Email": codes.organization_email(rng, slug) if rng.random() < 0.5 else "",
    }


def generate_customers(rng: random.Random, count: int, first_period: Period) -> list[CustomerMaster]:
    """``count`` clean customers with Ids 1..count and increasing numeric codes."""
    subscription_nos = sorted(rng.sample(range(10001, 10001 + 4 * count + 100), count))
    used_names: set[str] = set()
    masters = []
    for customer_id, subscription_no in enumerate(subscription_nos, start=1):
        kind = PERSON if rng.random() < 0.55 else ORGANIZATION
        city = places.pick_city(rng)
        identity = (_person if kind == PERSON else _organization)(rng, city, used_names)
        fields: dict[str, object] = {
            "Type": rng.choices((2, 0, 1), weights=(75, 20, 5))[0],
            "AccId": RECEIVABLES_ACC,
            "FAccId": customer_detail_id(customer_id),
            "PrePayAccId": "0",
            "PreRcvAccId": "0",
            "PrePayDepr": 0,
            "PreRcvDepr": 0,
            "Credit": 0 if rng.random() < 0.5 else rng.choice((50, 100, 200, 500, 1000)) * 1_000_000,
            **identity,
            "Address": places.address(rng),
            "CDesc": rng.choice(_DESCRIPTIONS),
            "CurrencyVal": 0,
            "CurrencyId": 0,
            "ZipCode": "0",
            "InitBal": 0 if rng.random() < 0.8 else rng.randint(1, 400) * 1_000_000,
            "UserId": 1,
            "SecId": 0,
            "LRes": PRICE_LEVEL,
            "DRes": 0.0,
            "TRes": "",
            "Discount1": 0 if rng.random() < 0.85 else rng.choice((2, 3, 5)),
            "Discount2": 0,
            "GroupName": rng.choice(names.CUSTOMER_GROUPS),
            "Province": city.province,
            "City": city.city,
            "Zone": places.zone(rng, city),
            "SubscriptionNo": str(subscription_no),
            "CCId": 0,
            "PrjId": 0,
            "PrePayFAccId": 0,
            "PrePayCCId": 0,
            "PrePayPrjId": 0,
            "PreRcvFAccId": 0,
            "PreRcvCCId": 0,
            "PreRcvPrjId": 0,
            "TownShip": city.city,
            "PostalCode": codes.postal_code(rng),
            "Active": 1 if rng.random() < 0.95 else 0,
            "MashmoolMaliat": 1 if rng.random() < 0.9 else 0,
            "MohlatePardakht": rng.choice((0, 0, 0, 15, 30, 45, 60)),
        }
        masters.append(CustomerMaster(customer_id, kind, city, moment_in(rng, first_period), fields))
    return masters


def customer_rows(
    masters: list[CustomerMaster], periods: list[Period], history: History
) -> tuple[list[dict], list[dict]]:
    """``__Customer__`` and ``__DetailAcc__`` rows: every customer once per fiscal period."""
    customer_out: list[dict] = []
    detail_out: list[dict] = []
    newest = periods[-1]
    for fp in periods:
        for m in masters:
            values = dict(m.fields)
            customer_id = m.id
            if fp is newest and fp is not periods[0]:
                values.update(history.edits.get(m.id, {}))
                customer_id = history.renumbered.get(m.id, m.id)
            if fp is periods[0]:
                stamp = m.created
            else:
                stamp = history.edit_times.get(m.id, fp.opening) if fp is newest else fp.opening
            row = {"Id": customer_id, "FPId": fp.id, **values}
            row["ETime"] = stamp
            row["EDate"] = stamp.replace(hour=0, minute=0, second=0)
            customer_out.append(row)
            detail_out.append(
                detail_row(
                    int(values["FAccId"]),
                    str(values["Name"]),
                    fp,
                    codes=(CUSTOMERS_GROUP_CODE, f"{m.id:05d}"),
                )
            )
    return customer_out, detail_out
