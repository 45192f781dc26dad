"""REST views of stored invoice documents (stored as complete InvoiceInfo objects, invoices.py).

- `invoice_view`: the InvoiceGetResult of `invoice/sales/get`, `invoice/purchase/get` and their `find` (§3.4).
- `quote_view`: the camelCase "Quote get" shape of `quote/sales/get` observed on a live
  server (§3.4): `quoteDate`, `quoteType`, no inventory keys on lines, previews.
"""

import uuid
from typing import Any

INVOICE_LINE_KEYS = ("productCode", "productId", "productName", "isService", "baseUnitPrice", "finalUnitPrice",
                     "count", "returnedCount", "totalUnitPrice", "serial", "totalDiscount", "totalVat", "totalToll",
                     "discountPercent", "detailDescription", "inventoryName", "inventoryCode", "productUnitTypeName")
QUOTE_LINE_KEYS = ("productCode", "productId", "productName", "isService", "baseUnitPrice", "finalUnitPrice", "count",
                   "returnedCount", "totalUnitPrice", "totalDiscount", "totalVat", "totalToll", "discountPercent",
                   "detailDescription", "productUnitTypeName", "serial")
TOTAL_KEYS = ("priceListName", "discount", "vat", "toll", "additionalCosts", "totalValue")


def invoice_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "relatedQuoteId": doc["quoteId"],
        **_pick(doc, *TOTAL_KEYS, "invoiceDate", "expireDate", "vatPercent", "tollPercent", "invoiceType"),
        "details": [_pick(line, *INVOICE_LINE_KEYS) for line in doc["details"] or []],
        **_pick(doc, "discountPercent", "totalDiscountPercent", "finalValue", "number", "billableObjectState"),
        **_pick(doc, "crmId", "crmObjectTypeName", "crmObjectTypeCode", "crmObjectTypeIndex", "crmObjectTypeId",
                "parentCrmObjectId"),
        "extendedProperties": _extended_properties(doc),
        **_pick(doc, "creatDate", "modifyDate"),
        "tags": doc["tags"] or [],
        **_pick(doc, "refId", "stage", "stageId"),
        "processLifePathIndex": None,
        **_pick(doc, "description", "subject", "identityId"),
        "assignedToUserName": doc["assignedTo"],
    }


def quote_view(doc: dict[str, Any], identity_name: str | None, username: str) -> dict[str, Any]:
    user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pg-sandbox:user:{username}"))
    return {
        **_pick(doc, *TOTAL_KEYS, "finalValue", "discountPercent", "totalDiscountPercent", "vatPercent",
                "tollPercent"),
        "quoteDate": doc["invoiceDate"],
        "expireDate": doc["expireDate"],
        "quoteType": "Quote",
        "details": [_pick(line, *QUOTE_LINE_KEYS) for line in doc["details"] or []],
        "number": doc["number"] or "",
        "billableObjectState": doc["billableObjectState"],
        "billableObjectStateIndex": 1,
        **_pick(doc, "crmId", "crmObjectTypeIndex", "crmObjectTypeName", "crmObjectTypeId", "crmObjectTypeCode"),
        "crmObjectTypeIndexPreview": "Quote",
        "parentCrmObjectId": doc["parentCrmObjectId"],
        "extendedProperties": _extended_properties(doc),
        **_pick(doc, "creatDate", "modifyDate"),
        "tags": doc["tags"] or [],
        **_pick(doc, "refId", "stageId", "identityId"),
        "identityIdPreview": identity_name,
        **_pick(doc, "description", "subject"),
        "processLifePaths": [],
        "color": None,
        "modifierId": user_id,
        "modifierIdPreview": username,
        "creatorId": user_id,
        "creatorIdPreview": username,
        "assignedToId": doc["assignedToId"],
        "assignedToIdPreview": doc["assignedTo"],
    }


def _pick(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: doc.get(key) for key in keys}


def _extended_properties(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": p.get("name"), "value": p.get("value"), "userKey": p.get("userKey"), "preview": None}
            for p in doc["extendedProperties"] or [] if p is not None]
