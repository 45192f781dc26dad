"""Detail accounts (``__DetailAcc__``, "tafsili") and the account codes the demo refers to.

The demo has no ``__Account__`` chart; the FullId strings below are plausible codes only.
Detail-account layout: two level-4 group rows, then one level-5 row per broker and per customer.
"""

from __future__ import annotations

from .fiscal import Period

RECEIVABLES_ACC = "1103"  # customers' account (trade receivables)
BROKER_ACC = "2104"  # brokers' account (commissions payable)
INVENTORY_ACC = "1105"  # warehouses' inventory account
GOODS_ACC = "1105"  # merchandise inventory account
SALES_ACC = "6101"  # sales revenue (sales invoices)
SALES_RETURN_ACC = "6102"  # sales returns and allowances
PURCHASES_ACC = "5101"  # purchases (purchase invoices)
PURCHASE_RETURNS_ACC = "5102"  # purchase returns
VAT_PAYABLE_ACC = "2105"  # value added tax payable (__SPTax__ VAT rows)
TOLL_PAYABLE_ACC = "2106"  # municipal toll ("avarez") payable (__SPTax__ toll rows)

CUSTOMERS_GROUP_ID, CUSTOMERS_GROUP_CODE = 1, "1"
BROKERS_GROUP_ID, BROKERS_GROUP_CODE = 2, "2"


def customer_detail_id(customer_id: int) -> int:
    return 1000 + customer_id


def broker_detail_id(broker_id: int) -> int:
    return 10 + broker_id


def detail_row(detail_id: int, name: str, fp: Period, *, codes: tuple[str, ...], desc: str = "") -> dict:
    """One ``__DetailAcc__`` row; ``codes`` are the T1.. segments (level = 3 + len(codes))."""
    segments = list(codes) + [""] * (8 - len(codes))
    row = {"Id": detail_id, "Name": name, "AccLevel": 3 + len(codes)}
    row.update({f"T{i}": seg for i, seg in enumerate(segments, start=1)})
    row.update(
        {
            "Debit": 0, "Credit": 0, "Budget": 0, "CurrencyBudget": 0, "CurrencyVal": 0,
            "CurrencyId": 0, "AccDesc": desc, "LRes": 0, "DRes": 0.0, "TRes": "", "FPId": fp.id,
        }
    )
    return row


def group_rows(fp: Period) -> list[dict]:
    return [
        detail_row(CUSTOMERS_GROUP_ID, "اشخاص و شرکت‌ها", fp, codes=(CUSTOMERS_GROUP_CODE,)),
        detail_row(BROKERS_GROUP_ID, "بازاریابان و فروشندگان", fp, codes=(BROKERS_GROUP_CODE,)),
    ]
