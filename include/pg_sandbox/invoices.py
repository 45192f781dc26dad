"""Quotes, sales and purchase invoices, sales and purchase returns (IInvoice §4.3, REST
invoice/sales and invoice/purchase §3.1).

Documents are stored as complete InvoiceInfo / ReturnInvoiceInfo objects with camelCase
keys (soap_codec.complete), so SOAP reads return them as they are and the REST views
(invoice_views.py) only rename. Sales invoices saved by SOAP `SaveInvoice(InvoiceType=
Invoice)` and by REST `invoice/sales/create` are one kind and share numbers. Purchase
invoices (REST `invoice/purchase/*`, index 15) are a kind of their own, with their own
numbers. `SaveReturnInvoice` saves a purchase return (index 16) when `CrmObjectTypeIndex` is
16, a sales return (index 17) when it is 17 or absent (0); any other index is refused.

Chosen where the contract is silent:
- a save with `CrmId` updates that record (Success=false "not found" when it is not a live
  record of the same kind) and replaces the whole object; without `CrmId` it creates one;
- `CrmObjectTypeCode` and a live `IdentityId` are required; every line must name a live
  product by `ProductId` or `ProductCode` (the server fills in the other, and the product's
  name and unit when the line has none);
- `Number` is unique among live records of one kind and type code; an empty number is
  not checked (a quote is "" until numbered);
- totals are stored as sent: whether the real server recomputes them is unknown (§7);
- a return line's `RelatedInvoices` must name live invoices, by id or by number: sales
  invoices for a sales return, purchase invoices for a purchase return; a sales invoice's
  `QuoteId` (REST `relatedQuoteId`), when given, a live quote (a purchase invoice's would name
  a purchase quote, which the sandbox does not have: refused);
- the settings' `purchase_invoice_type_code` / `purchase_return_type_code` are the only
  subtype codes of purchase invoices / returns, and no other kind may use them
  (SandboxSettings.purchase_kind_of).
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pg_sandbox.crm_types import check_type_id
from pg_sandbox.dates import now_utc
from pg_sandbox.document_store import DocumentStore, Keys
from pg_sandbox.documents import (
    INVOICE_TYPE,
    NOUN,
    Rejected,
    billable_fields,
    delete_one,
    filled,
    given_id,
    save,
)
from pg_sandbox.references import References
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.soap_codec import complete
from pg_sandbox.soap_search import Condition

KIND_OF_TYPE = {"Invoice": "sales_invoice", "Quote": "quote"}  # Gp_InvoiceType -> kind, for SaveInvoice
RETURN_OF_INDEX = {16: "purchase_return", 17: "sales_return", 0: "sales_return"}  # CrmObjectTypeIndex -> kind
RETURN_KINDS = ("sales_return", "purchase_return")
PURCHASE_KINDS = ("purchase_invoice", "purchase_return")
INVOICE_OF_RETURN = {"sales_return": "sales_invoice", "purchase_return": "purchase_invoice"}  # RelatedInvoices


class Invoices:
    def __init__(self, docs: DocumentStore, refs: References, settings: Callable[[], SandboxSettings],
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._docs = docs
        self._refs = refs
        self._settings = settings
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
        """Create (crm_id None) or replace a quote, sales invoice or purchase invoice from InvoiceInfo values."""
        type_code = self._type_code(kind, info)
        identity_id = self._refs.identity(info.get("identityId"))["crmId"]
        lines = self._refs.lines(info.get("details"), "InvoiceDetailInfo")
        quote_id = given_id(info.get("quoteId"))
        if quote_id is not None and kind == "sales_invoice" and not self.by_id(quote_id, ("quote",)):
            raise Rejected("quote_not_found", f"related quote {quote_id} not found")
        if quote_id is not None and kind == "purchase_invoice":
            raise Rejected("quote_not_found", f"related purchase quote {quote_id} not found"
                                              " (the sandbox has no purchase quotes)")

        def build(previous: dict[str, Any] | None, new_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("InvoiceInfo", info)
            doc.update(details=lines, identityId=identity_id, invoiceType=INVOICE_TYPE[kind],
                       billableObjectState=previous["billableObjectState"] if previous else None)
            doc.update(billable_fields(kind, new_id, type_code, previous["creatDate"] if previous else now, now))
            return doc, Keys(doc["number"], type_code, identity_id)

        return save(self._docs, kind, crm_id, build, self._clock)

    def save_return(self, info: dict[str, Any] | None) -> str:
        """SaveReturnInvoice: a sales or purchase return (by CrmObjectTypeIndex), lines by ProductCode, each
        maybe naming the invoices (sales or purchase, as the return) it returns from."""
        if info is None:
            raise Rejected("required", "returnInvoiceInfo is required")
        index = info.get("crmObjectTypeIndex") or 0
        kind = RETURN_OF_INDEX.get(index)
        if kind is None:
            raise Rejected("invalid_value", f"CrmObjectTypeIndex must be 16 (ReturnPurchaseInvoice) or 17"
                                            f" (ReturnSaleInvoice), not {index}")
        type_code = self._type_code(kind, info)
        identity_id = self._refs.identity(info.get("identityId"))["crmId"]
        lines = self._refs.lines(info.get("details"), "ReturnInvoiceDetailInfo")
        for n, line in enumerate(lines, start=1):
            for related in line["relatedInvoices"] or []:
                if related is not None:
                    related["relatedInvoiceInfo"] = self._refs.invoice(
                        INVOICE_OF_RETURN[kind], related["relatedInvoiceInfo"], f"line {n}")

        def build(previous: dict[str, Any] | None, new_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("ReturnInvoiceInfo", info)
            doc.update(details=lines, identityId=identity_id,
                       billableObjectState=previous["billableObjectState"] if previous else None)
            doc.update(billable_fields(kind, new_id, type_code, previous["creatDate"] if previous else now, now))
            return doc, Keys(doc["number"], type_code, identity_id)

        return save(self._docs, kind, given_id(info.get("crmId")), build, self._clock)

    # ---- reads -------------------------------------------------------------------------------

    def by_id(self, crm_id: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        doc = self._docs.get(crm_id, kinds)
        return [doc] if doc else []

    def by_number(self, kind: str, number: str | None, type_code: str | None) -> list[dict[str, Any]]:
        """Live records of `kind` with this number; any type code when `type_code` is empty."""
        return [doc for _, doc in self._with_number((kind,), number, type_code)]

    def _with_number(self, kinds: tuple[str, ...], number: str | None,
                     type_code: str | None) -> list[tuple[str, dict[str, Any]]]:
        if not filled(number):
            return []
        return self._docs.find(kinds, number=number, type_code=type_code if filled(type_code) else None)

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

    def delete_return_by_number(self, number: str | None, type_code: str | None) -> dict[str, Any]:
        """DeleteReturnInvoiceByNumber: the one live sales or purchase return with this number, of the subtype
        `type_code` names (either kind, any subtype, when it is empty: refused when that is more than one)."""
        return delete_one(self._docs, "return", f"with number '{number}'",
                          lambda: self._with_number(RETURN_KINDS, number, type_code), self._clock)[1]

    # ---- subtypes ------------------------------------------------------------------------------

    def _type_code(self, kind: str, info: dict[str, Any]) -> str:
        """The record's CrmObjectTypeCode: required; the purchase kinds' codes (settings) are theirs alone."""
        type_code = info.get("crmObjectTypeCode")
        if not filled(type_code):
            raise Rejected("required", "CrmObjectTypeCode is required")
        settings = self._settings()
        owner = settings.purchase_kind_of(type_code)
        if kind in PURCHASE_KINDS and owner != kind:
            wanted = getattr(settings, f"{kind}_type_code")
            raise Rejected("unknown_type", f"CrmObjectTypeCode '{type_code}' is not this CRM's {NOUN[kind]} type"
                                           f" '{wanted}'")
        if owner is not None and owner != kind:
            raise Rejected("unknown_type", f"CrmObjectTypeCode '{type_code}' is this CRM's {NOUN[owner]} type,"
                                           f" not a {NOUN[kind]} type" + _RETURN_HINT.get(kind, ""))
        check_type_id(settings, kind, info, type_code)
        return type_code


_RETURN_HINT = {"sales_return": " (save a purchase return with CrmObjectTypeIndex 16)"}
