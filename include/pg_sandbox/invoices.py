"""Quotes, sales invoices and sales returns (IInvoice §4.3, REST invoice/sales §3.1).

Documents are stored as complete InvoiceInfo / ReturnInvoiceInfo objects with camelCase
keys (soap_codec.complete), so SOAP reads return them as they are and the REST views
(invoice_views.py) only rename. Sales invoices saved by SOAP `SaveInvoice(InvoiceType=
Invoice)` and by REST `invoice/sales/create` are one kind and share numbers.

Chosen where the contract is silent:
- a save with `CrmId` updates that record (Success=false "not found" when it is not a live
  record of the same kind) and replaces the whole object; without `CrmId` it creates one;
- `CrmObjectTypeCode` and a live `IdentityId` are required; every line must name a live
  product by `ProductId` or `ProductCode` (the server fills in the other, and the product's
  name and unit when the line has none);
- `Number` is unique among live records of one kind and type code; an empty number is
  not checked (a quote is "" until numbered);
- totals are stored as sent: whether the real server recomputes them is unknown (§7);
- a return line's `RelatedInvoices` must name live sales invoices, by id or by number; a
  sales invoice's `QuoteId` (REST `relatedQuoteId`), when given, a live quote.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pg_sandbox.dates import now_utc
from pg_sandbox.document_store import DocumentStore, Keys
from pg_sandbox.documents import INVOICE_TYPE, Rejected, billable_fields, delete_one, filled, given_id, save
from pg_sandbox.references import References
from pg_sandbox.soap_codec import complete
from pg_sandbox.soap_search import Condition

KIND_OF_TYPE = {name: kind for kind, name in INVOICE_TYPE.items()}  # Gp_InvoiceType -> kind


class Invoices:
    def __init__(self, docs: DocumentStore, refs: References, clock: Callable[[], datetime] = now_utc) -> None:
        self._docs = docs
        self._refs = refs
        self._clock = clock

    # ---- saves -------------------------------------------------------------------------------

    def save(self, info: dict[str, Any] | None) -> str:
        """SaveInvoice: a quote or a sales invoice, by InvoiceType."""
        if info is None:
            raise Rejected("required", "invoiceInfo is required")
        kind = KIND_OF_TYPE.get(info.get("invoiceType"))
        if kind is None:
            raise Rejected("invalid_value", f"InvoiceType must be 'Invoice' or 'Quote', not {info.get('invoiceType')!r}")
        return self.save_as(kind, info, given_id(info.get("crmId")))

    def save_as(self, kind: str, info: dict[str, Any], crm_id: str | None) -> str:
        """Create (crm_id None) or replace a quote or sales invoice from InvoiceInfo values."""
        type_code = _type_code(info)
        identity_id = self._refs.identity(info.get("identityId"))["crmId"]
        lines = self._refs.lines(info.get("details"), "InvoiceDetailInfo")
        quote_id = given_id(info.get("quoteId"))
        if quote_id is not None and kind == "sales_invoice" and not self.by_id(quote_id, ("quote",)):
            raise Rejected("quote_not_found", f"related quote {quote_id} not found")

        def build(previous: dict[str, Any] | None, new_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("InvoiceInfo", info)
            doc.update(details=lines, identityId=identity_id, invoiceType=INVOICE_TYPE[kind],
                       billableObjectState=previous["billableObjectState"] if previous else None)
            doc.update(billable_fields(kind, new_id, type_code, previous["creatDate"] if previous else now, now))
            return doc, Keys(doc["number"], type_code, identity_id)

        return save(self._docs, kind, crm_id, build, self._clock)

    def save_return(self, info: dict[str, Any] | None) -> str:
        """SaveReturnInvoice: lines by ProductCode, each maybe naming the sales invoices it returns from."""
        if info is None:
            raise Rejected("required", "returnInvoiceInfo is required")
        type_code = _type_code(info)
        identity_id = self._refs.identity(info.get("identityId"))["crmId"]
        lines = self._refs.lines(info.get("details"), "ReturnInvoiceDetailInfo")
        for n, line in enumerate(lines, start=1):
            for related in line["relatedInvoices"] or []:
                if related is not None:
                    related["relatedInvoiceInfo"] = self._refs.sales_invoice(related["relatedInvoiceInfo"], f"line {n}")

        def build(previous: dict[str, Any] | None, new_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("ReturnInvoiceInfo", info)
            doc.update(details=lines, identityId=identity_id,
                       billableObjectState=previous["billableObjectState"] if previous else None)
            doc.update(billable_fields("sales_return", new_id, type_code,
                                       previous["creatDate"] if previous else now, now))
            return doc, Keys(doc["number"], type_code, identity_id)

        return save(self._docs, "sales_return", given_id(info.get("crmId")), build, self._clock)

    # ---- reads -------------------------------------------------------------------------------

    def by_id(self, crm_id: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        doc = self._docs.get(crm_id, kinds)
        return [doc] if doc else []

    def by_number(self, kind: str, number: str | None, type_code: str | None) -> list[dict[str, Any]]:
        """Live records of `kind` with this number; any type code when `type_code` is empty."""
        if not filled(number):
            return []
        found = self._docs.find([kind], number=number, type_code=type_code if filled(type_code) else None)
        return [doc for _, doc in found]

    def by_identity(self, identity_id: str) -> list[dict[str, Any]]:
        return [doc for _, doc in self._docs.find(["sales_invoice"], identity_id=identity_id)]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [doc for _, doc in self._docs.find([kind])]

    def search(self, kind: str, type_key: str | None, conditions: Iterable[Condition]) -> list[dict[str, Any]]:
        """Search*: live records of `kind` of subtype `type_key` (empty: any) meeting every condition."""
        conditions = list(conditions)
        found = self._docs.find([kind], type_code=type_key if filled(type_key) else None)
        return [doc for _, doc in found if all(condition.holds(doc) for condition in conditions)]

    # ---- deletes -----------------------------------------------------------------------------

    def delete_by_id(self, crm_id: str, kinds: tuple[str, ...]) -> dict[str, Any]:
        return delete_one(self._docs, kinds[0], crm_id,
                          lambda: [(kinds[0], doc) for doc in self.by_id(crm_id, kinds)], self._clock)[1]

    def delete_by_number(self, kind: str, number: str | None, type_code: str | None) -> dict[str, Any]:
        return delete_one(self._docs, kind, f"with number '{number}'",
                          lambda: [(kind, doc) for doc in self.by_number(kind, number, type_code)], self._clock)[1]


def _type_code(info: dict[str, Any]) -> str:
    type_code = info.get("crmObjectTypeCode")
    if not filled(type_code):
        raise Rejected("required", "CrmObjectTypeCode is required")
    return type_code
