"""What happens to the data between the chaos suite's passes, the same in the baseline and the chaos world:
a CRM user makes customers and quotes in the CRM (their webhooks feed the reverse DAGs), and finance edits
and deletes records in Tadbir (so the second pass has updates and deletes to send through the faults)."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hamgam.transform.codes import make_national_code
from hamgam_dev.devenv import DEMO_PASSWORD, DEMO_USER

# number, first name, last name, national code (valid checksums); the number routes it to its company
CUSTOMERS = (("100-20001", "سارا", "کریمی", "0013542419"),
             ("100-20002", "بهرام", "نیک‌نام", make_national_code("001354300")),
             ("200-20001", "مریم", "صالحی", make_national_code("272012345")))
QUOTES = (("100-1404/9001", "100-20001"), ("100-1404/9002", "100-20002"), ("200-1404/9001", "200-20001"))
PRODUCT_CANDIDATES = tuple(str(code) for code in range(1001, 1021))


@dataclass
class CrmUser:
    """A salesperson working in the CRM (straight at the sandbox, not through the fault proxy)."""

    base_url: str
    made: dict[str, str] = field(default_factory=dict)  # CRM number -> CRM id
    deferred: list[tuple[str, str]] = field(default_factory=list)  # quotes whose products are not in the CRM yet

    def _client(self):
        from hamgam.payamgostar.client import PayamgostarClient

        return PayamgostarClient(self.base_url, DEMO_USER, DEMO_PASSWORD)

    def make_customers(self) -> None:
        with self._client() as client:
            for number, first, last, national_code in CUSTOMERS:
                self.made[number] = client.create_identity("person", {
                    "crmObjectTypeCode": "person", "firstName": first, "lastName": last,
                    "nickName": f"{first} {last}", "customerNumber": number, "nationalCode": national_code,
                    "phoneContacts": [{"phoneType": "موبایل", "phoneNumber": "09121234567", "default": True}],
                }, record=f"customer {number}")

    def pick_products(self, records: list[dict[str, Any]]) -> dict[int, list[str]]:
        """Two products per company that are in the CRM (the baseline's pick is reused in the chaos world)."""
        codes = {r.get("code") for r in records if r.get("kind") == "product"}
        return {company: [f"{company}-{c}" for c in PRODUCT_CANDIDATES if f"{company}-{c}" in codes][:2]
                for company in (100, 200)}

    def make_quotes(self, products: dict[int, list[str]], quotes: tuple[tuple[str, str], ...] = QUOTES) -> None:
        """Each quote on its company's two products; a quote whose products are missing from the CRM
        (lost to faults) waits in ``deferred`` for the next call."""
        self.deferred = []
        with self._client() as client:
            for number, customer in quotes:
                company = int(number.split("-", 1)[0])
                found = [client.find_product_by_code(code, record=f"product {code}") for code in products[company]]
                if len(products[company]) < 2 or not all(found):
                    self.deferred.append((number, customer))
                    continue
                lines = []
                for product, count in zip(found, (Decimal(2), Decimal(1)), strict=True):
                    price = int(product.get("UnitPrice") or 0)
                    total = int(price * count)
                    vat = total * 9 // 100
                    lines.append({"BaseUnitPrice": price, "Count": count, "FinalUnitPrice": total + vat, "Id": 0,
                                  "IsService": False, "ProductCode": product["Code"], "ProductId": product["Id"],
                                  "ProductName": product.get("Name"), "ReturnedCount": 0, "TotalDiscount": 0,
                                  "TotalToll": 0, "TotalUnitPrice": total, "TotalVat": vat})
                total = sum(line["TotalUnitPrice"] for line in lines)
                vat = sum(line["TotalVat"] for line in lines)
                self.made[number] = client.save_quote({
                    "CrmObjectTypeCode": "quote", "Number": number, "IdentityId": self.made[customer],
                    "Subject": "پیش‌فاکتور آزمون آشوب", "Description": "ثبت شده در پیام‌گستر", "InvoiceType": "Quote",
                    "InvoiceDate": "2025-07-01T00:00:00", "Details": lines, "Discount": 0, "Toll": 0,
                    "TollPercent": 0, "TotalDiscountPercent": 0, "TotalValue": total, "Vat": vat, "VatPercent": 9,
                    "FinalValue": total + vat,
                }, record=f"quote {number}")


def edit_tadbir(demo: Path, pristine: Path, seed: int) -> dict[str, int]:
    """Finance's edits between the passes, in each company's database: names of customers and products,
    invoice descriptions, receipt notes changed; customers (not used by any document), quotes, an invoice
    (not returned) and a payment deleted. Rows are picked among the pristine demo rows by a seeded
    generator, so both worlds get the same edits. Returns how many rows of each kind were touched."""
    touched: dict[str, int] = {}
    for path in sorted(pristine.glob("tadbir_*.sqlite")):
        company = int(path.stem.split("_")[1])
        rng = random.Random(f"{seed}/{company}")
        with sqlite3.connect(path) as source:
            picks = _pick(source, rng)
        with sqlite3.connect(demo / path.name) as target:
            for (kind, sql), rows in picks.items():
                target.executemany(sql, rows)
                touched[kind] = touched.get(kind, 0) + len(rows)
    return touched


def _pick(db: sqlite3.Connection, rng: random.Random) -> dict[tuple[str, str], list[tuple]]:
    current = db.execute("SELECT MAX(Id) FROM __FiscalPeriod__").fetchone()[0]

    def sample(sql: str, k: int, *params: Any) -> list[tuple]:
        rows = db.execute(sql, params).fetchall()
        return rng.sample(rows, min(k, len(rows)))

    customers = "SELECT Id, FPId FROM __Customer__ WHERE FPId = ? AND SubscriptionNo <> ''"
    unused = (customers + " AND Id NOT IN (SELECT CustomerId FROM __SPFactor__) "
              "AND Id NOT IN (SELECT CustomerId FROM __PayReceive__) ORDER BY Id")
    factors = "SELECT Id, FPId FROM __SPFactor__ WHERE FactorType = ? AND Cancelled = 0"
    not_returned = factors + " AND Id NOT IN (SELECT SPReference FROM __SPFactor__ WHERE FactorType = 3) ORDER BY Id"
    deleted_customers = sample(unused, 2, current)
    edited_customers = [r for r in sample(customers + " ORDER BY Id", 6, current) if r not in deleted_customers][:4]
    quotes = sample(factors + " ORDER BY Id", 2, 4)
    invoice = sample(not_returned, 1, 1)
    documents = quotes + invoice
    return {
        ("customer edited", "UPDATE __Customer__ SET Name = Name || ' - ویرایش' WHERE Id = ? AND FPId = ?"):
            edited_customers,
        ("customer deleted", "DELETE FROM __Customer__ WHERE Id = ? AND FPId = ?"): deleted_customers,
        ("product edited", "UPDATE __Merchandise__ SET Name = Name || ' (جدید)' WHERE Id = ? AND FPId = ?"):
            sample("SELECT Id, FPId FROM __Merchandise__ WHERE FPId = ? AND IsGroup = 0 ORDER BY Id", 3, current),
        ("invoice edited", "UPDATE __SPFactor__ SET SPDesc = SPDesc || ' - اصلاح شده' WHERE Id = ? AND FPId = ?"):
            [r for r in sample(factors + " ORDER BY Id", 4, 1) if r not in invoice][:3],
        ("quote/invoice lines deleted", "DELETE FROM __SPArticle__ WHERE SPId = ? AND FPId = ?"): documents,
        ("quote/invoice taxes deleted", "DELETE FROM __SPTax__ WHERE SPId = ? AND FPId = ?"): documents,
        ("quote/invoice deleted", "DELETE FROM __SPFactor__ WHERE Id = ? AND FPId = ?"): documents,
        ("receipt edited", "UPDATE __PayReceive__ SET Description = Description || ' (اصلاح)' "
                           "WHERE Id = ? AND FPId = ?"):
            sample("SELECT Id, FPId FROM __PayReceive__ WHERE Type = 0 ORDER BY Id", 2),
        ("payment deleted", "DELETE FROM __PayReceive__ WHERE Id = ? AND FPId = ?"):
            sample("SELECT Id, FPId FROM __PayReceive__ WHERE Type = 1 ORDER BY Id", 1),
    }
