"""Receipts and payments (IPayment §4.3, §4.4): one PaymentInfo, told apart by CrmObjectTypeCode.

The settings `receipt_type_code` and `payment_type_code` name the two subtypes this CRM
has; a PaymentInfo with any other code is refused. The amount is `FinalValue`.

Chosen where the contract is silent:
- a save with `CrmId` updates that live receipt/payment (of the kind its type code names),
  without one it creates; the whole object is replaced;
- a live `IdentityId` is required; `RelatedInvoiceNumber` (a RelatedInvoiceInfo), when it
  names anything, must name a live sales invoice by id or number;
- `Number` is unique among live receipts (payments); `Delete*ByNumber` takes no type code.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pg_sandbox.crm_types import check_type_id
from pg_sandbox.dates import now_utc
from pg_sandbox.document_store import DocumentStore, Keys
from pg_sandbox.documents import Rejected, billable_fields, delete_one, filled, given_id, save
from pg_sandbox.references import References
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.soap_codec import complete

KINDS = ("receipt", "payment")


class Payments:
    def __init__(self, docs: DocumentStore, refs: References, settings: Callable[[], SandboxSettings],
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._docs = docs
        self._refs = refs
        self._settings = settings
        self._clock = clock

    def save(self, info: dict[str, Any] | None) -> str:
        if info is None:
            raise Rejected("required", "paymentInfo is required")
        type_code = info.get("crmObjectTypeCode")
        if not filled(type_code):
            raise Rejected("required", "CrmObjectTypeCode is required: it tells a receipt from a payment")
        kind = self._kind_of(type_code)
        check_type_id(self._settings(), kind, info, type_code)
        identity_id = self._refs.identity(info.get("identityId"))["crmId"]
        related = self._refs.sales_invoice(info.get("relatedInvoiceNumber"), "RelatedInvoiceNumber")

        def build(previous: dict[str, Any] | None, new_id: str, now: str) -> tuple[dict[str, Any], Keys]:
            doc = complete("PaymentInfo", info)
            doc.update(identityId=identity_id, relatedInvoiceNumber=related,
                       billableObjectState=previous["billableObjectState"] if previous else None)
            doc.update(billable_fields(kind, new_id, type_code, previous["creatDate"] if previous else now, now))
            return doc, Keys(doc["number"], type_code, identity_id)

        return save(self._docs, kind, given_id(info.get("crmId")), build, self._clock)

    def by_number(self, kind: str, number: str | None, type_code: str | None) -> list[dict[str, Any]]:
        if not filled(number):
            return []
        found = self._docs.find([kind], number=number, type_code=type_code if filled(type_code) else None)
        return [doc for _, doc in found]

    def by_id(self, crm_id: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        doc = self._docs.get(crm_id, kinds)
        return [doc] if doc else []

    def delete_by_number(self, kind: str, number: str | None) -> dict[str, Any]:
        return delete_one(self._docs, kind, f"with number '{number}'",
                          lambda: [(kind, doc) for doc in self.by_number(kind, number, None)], self._clock)[1]

    def delete_by_id(self, crm_id: str) -> dict[str, Any]:
        return delete_one(self._docs, "payment", crm_id,
                          lambda: [(kind, doc) for kind, doc in self._docs.find(KINDS, crm_id=crm_id)],
                          self._clock)[1]

    def _kind_of(self, type_code: str) -> str:
        settings = self._settings()
        kinds = {settings.receipt_type_code.casefold(): "receipt", settings.payment_type_code.casefold(): "payment"}
        kind = kinds.get(type_code.casefold())
        if kind is None:
            raise Rejected("unknown_type", f"CrmObjectTypeCode '{type_code}' is neither the receipt type"
                                           f" '{settings.receipt_type_code}' nor the payment type"
                                           f" '{settings.payment_type_code}'")
        return kind
