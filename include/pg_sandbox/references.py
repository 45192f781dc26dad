"""Referential checks the CRM makes on save: the customer identity, each line's product, and the
invoice a return line (a sales invoice for a sales return, a purchase invoice for a purchase
return) or a payment (a sales invoice) refers to.

Each check answers the record it found, or raises Rejected naming what is missing.
"""

from typing import Any

from pg_sandbox.document_store import DocumentStore
from pg_sandbox.documents import NOUN, Rejected, filled, given_id
from pg_sandbox.models import is_guid
from pg_sandbox.soap_codec import complete
from pg_sandbox.store import Store


class References:
    def __init__(self, store: Store, docs: DocumentStore) -> None:
        self._store = store
        self._docs = docs

    def identity(self, identity_id: Any) -> dict[str, Any]:
        """The live person or organization `identity_id` names."""
        wanted = given_id(identity_id)
        if wanted is None:
            raise Rejected("required", "IdentityId is required: name the customer identity")
        doc = self._store.get(wanted) if is_guid(wanted) else None
        if doc is None:
            raise Rejected("identity_not_found", f"identity {identity_id} not found")
        return doc

    def product(self, product_id: Any, code: Any, where: str) -> dict[str, Any]:
        """The live product named by id (preferred) or by code."""
        wanted = given_id(product_id)
        if wanted is not None:
            doc = self._docs.get(wanted, ["product"]) if is_guid(wanted) else None
            if doc is None:
                raise Rejected("product_not_found", f"{where}: product {product_id} not found")
            if filled(code) and code.casefold() != doc["code"].casefold():
                raise Rejected("product_not_found", f"{where}: product {product_id} has code '{doc['code']}',"
                                                    f" not '{code}'")
            return doc
        if filled(code):
            found = self._docs.find(["product"], number=code)
            if not found:
                raise Rejected("product_not_found", f"{where}: product with code '{code}' not found")
            return found[0][1]
        raise Rejected("required", f"{where}: name the product (ProductId or ProductCode)")

    def lines(self, lines: list[dict[str, Any] | None] | None, line_type: str) -> list[dict[str, Any]]:
        """Complete `line_type` lines with their product filled in and 1-based ids where none was given."""
        resolved = []
        for n, line in enumerate(lines or [], start=1):
            if line is None:
                raise Rejected("required", f"line {n} is null")
            product = self.product(line.get("productId"), line.get("productCode"), f"line {n}")
            full = complete(line_type, line)
            full.update(productId=product["id"], productCode=product["code"],
                        productName=line.get("productName") or product["name"])
            if "productUnitTypeName" in full:
                full["productUnitTypeName"] = line.get("productUnitTypeName") or product["productUnitType"]
            if "isService" not in full:  # a return line: keep it for the InvoiceInfo view
                full["isService"] = bool(product["isService"])
            if not full.get("id"):
                full["id"] = n
            resolved.append(full)
        return resolved

    def sales_invoice(self, related: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
        """The RelatedInvoiceInfo of a live sales invoice named by id or number, or None when none is named."""
        return self.invoice("sales_invoice", related, where)

    def invoice(self, kind: str, related: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
        """The RelatedInvoiceInfo of a live invoice of `kind` (sales_invoice, purchase_invoice) named by id or
        number, or None when none is named."""
        noun = NOUN[kind]
        related = related or {}
        wanted = given_id(related.get("relatedInvoiceId"))
        number, type_code = related.get("relatedInvoiceNumber"), related.get("relatedInvoiceTypeCode")
        if wanted is not None:
            doc = self._docs.get(wanted, [kind])
        elif filled(number):
            found = self._docs.find([kind], number=number, type_code=type_code if filled(type_code) else None)
            if len(found) > 1:
                raise Rejected("ambiguous", f"{where}: {len(found)} {noun}s have number '{number}';"
                                            " give RelatedInvoiceTypeCode")
            doc = found[0][1] if found else None
        else:
            return None
        if doc is None:
            raise Rejected("invoice_not_found", f"{where}: related {noun} {wanted or number} not found")
        return {"relatedInvoiceId": doc["crmId"], "relatedInvoiceNumber": doc["number"],
                "relatedInvoiceTypeCode": doc["crmObjectTypeCode"]}
