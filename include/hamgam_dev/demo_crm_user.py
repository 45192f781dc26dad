"""The demo's CRM user: makes a customer and a quote in the sandbox through its API, as a salesperson
would in Payamgostar, so the sandbox's webhooks bring them to hamgam and the reverse DAGs into Tadbir."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hamgam_dev.devenv import DEMO_PASSWORD, DEMO_USER


@dataclass(frozen=True)
class MadeInCrm:
    customer_number: str
    customer_id: str
    quote_number: str
    quote_id: str


def make_customer_and_quote(base_url: str, *, company: int = 100, fiscal_year: int = 1404) -> MadeInCrm:
    from hamgam.payamgostar.client import PayamgostarClient

    customer_number = f"{company}-20001"  # the CRM's own customer numbering, beyond Tadbir's codes
    quote_number = f"{company}-{fiscal_year}/9001"  # the CRM's quote template names the fiscal year
    with PayamgostarClient(base_url, DEMO_USER, DEMO_PASSWORD) as client:
        customer_id = client.create_identity("person", {
            "crmObjectTypeCode": "person", "firstName": "سارا", "lastName": "کریمی", "nickName": "سارا کریمی",
            "customerNumber": customer_number, "nationalCode": "0013542419", "email": "sara.karimi@example.com",
            "phoneContacts": [{"phoneType": "موبایل", "phoneNumber": "09121234567", "default": True}],
        }, record=f"customer {customer_number}")
        lines = []
        for code, count in ((f"{company}-1001", Decimal(2)), (f"{company}-1002", Decimal(1))):
            product = client.find_product_by_code(code, record=f"product {code}")
            if product is None:
                raise RuntimeError(f"product {code} is not in the CRM: run the forward DAGs first")
            price = int(product.get("UnitPrice") or 0)
            total = int(price * count)
            vat = total * 9 // 100
            lines.append({"BaseUnitPrice": price, "Count": count, "FinalUnitPrice": total + vat, "Id": 0,
                          "IsService": False, "ProductCode": code, "ProductId": product["Id"],
                          "ProductName": product.get("Name"), "ReturnedCount": 0, "TotalDiscount": 0,
                          "TotalToll": 0, "TotalUnitPrice": total, "TotalVat": vat})
        total = sum(line["TotalUnitPrice"] for line in lines)
        vat = sum(line["TotalVat"] for line in lines)
        quote_id = client.save_quote({
            "CrmObjectTypeCode": "quote", "Number": quote_number, "IdentityId": customer_id,
            "Subject": "پیش‌فاکتور تابلو برق کارگاه", "Description": "ثبت شده در پیام‌گستر توسط کارشناس فروش",
            "InvoiceType": "Quote", "InvoiceDate": "2025-07-01T00:00:00", "Details": lines, "Discount": 0,
            "Toll": 0, "TollPercent": 0, "TotalDiscountPercent": 0, "TotalValue": total, "Vat": vat,
            "VatPercent": 9, "FinalValue": total + vat,
        }, record=f"quote {quote_number}")
    return MadeInCrm(customer_number, customer_id, quote_number, quote_id)
