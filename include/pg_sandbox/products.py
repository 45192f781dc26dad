"""Products (IProduct, §4.3): save (create or update by Id), find and delete by code, name or id.

Chosen where the contract is silent:
- `SaveProduct` updates the product whose `Id` is given (Success=false when no live product
  has that Id) and creates one when `Id` is empty or the zero GUID; the whole ProductInfo
  is replaced, as a SOAP save sends the whole object;
- `Code` and `Name` are required; `Code` is unique among live products ("duplicate code");
- `ProductUnitType`, when given, must be one of the `product_units` setting;
- a `groupName` narrows find/delete by code or name only when it is not empty (PRESS sends '').
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pg_sandbox.dates import now_utc
from pg_sandbox.document_store import DocumentStore, Keys
from pg_sandbox.documents import Rejected, delete_one, filled, given_id, save
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.soap_codec import complete


class Products:
    def __init__(self, docs: DocumentStore, settings: Callable[[], SandboxSettings],
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._docs = docs
        self._settings = settings
        self._clock = clock

    def save(self, info: dict[str, Any] | None) -> str:
        if info is None:
            raise Rejected("required", "product is required")
        for key, name in (("code", "Code"), ("name", "Name")):
            if not filled(info.get(key)):
                raise Rejected("required", f"{name} is required")
        units = self._settings().product_units
        unit = info.get("productUnitType")
        if filled(unit) and unit not in units:
            raise Rejected("unknown_unit", f"unknown product unit '{unit}' (this CRM knows: {', '.join(units)})")

        def build(previous: dict[str, Any] | None, crm_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("ProductInfo", info)
            doc.update(id=crm_id, crmId=crm_id, creatDate=previous["creatDate"] if previous else now, modifyDate=now)
            return doc, Keys(number=info["code"])

        return save(self._docs, "product", given_id(info.get("id")), build, self._clock)

    def by_code(self, code: str | None, group_name: str | None) -> list[dict[str, Any]]:
        if not filled(code):
            return []
        return self._in_group([doc for _, doc in self._docs.find(["product"], number=code)], group_name)

    def by_name(self, name: str | None, group_name: str | None) -> list[dict[str, Any]]:
        if not filled(name):
            return []
        return self._in_group([doc for _, doc in self._docs.find(["product"]) if doc["name"] == name], group_name)

    def by_id(self, product_id: str) -> list[dict[str, Any]]:
        doc = self._docs.get(product_id, ["product"])
        return [doc] if doc else []

    def delete_by_code(self, code: str | None, group_name: str | None) -> dict[str, Any]:
        return delete_one(self._docs, "product", f"with code '{code}'",
                          lambda: [("product", doc) for doc in self.by_code(code, group_name)], self._clock)[1]

    def delete_by_id(self, product_id: str) -> dict[str, Any]:
        return delete_one(self._docs, "product", product_id,
                          lambda: [("product", doc) for doc in self.by_id(product_id)], self._clock)[1]

    @staticmethod
    def _in_group(docs: list[dict[str, Any]], group_name: str | None) -> list[dict[str, Any]]:
        if not filled(group_name):
            return docs
        return [doc for doc in docs if doc.get("groupName") == group_name]
