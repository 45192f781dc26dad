"""What products, invoices and payments share: refusals, the save transaction, server-set fields.

A `Rejected` is the CRM refusing a request it understood (duplicate number, unknown
identity or product, record not found): SOAP answers it as `Success=false` with the
message, REST as 400 (404 for `not_found`).
"""

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pg_sandbox.dates import local_text
from pg_sandbox.document_store import CRM_NUMBERED, DocumentStore, DuplicateNumber, Keys
from pg_sandbox.soap_contract import ZERO_GUID

# CrmObjectTypes (§5.1) and the InvoiceType/quoteType names per kind (Gp_InvoiceType has only Invoice
# and Quote: a purchase invoice is an Invoice of index 15).
TYPE_INDEX = {"quote": 8, "sales_invoice": 5, "sales_return": 17, "purchase_invoice": 15, "purchase_return": 16,
              "receipt": 9, "payment": 23}
INVOICE_TYPE = {"quote": "Quote", "sales_invoice": "Invoice", "purchase_invoice": "Invoice"}
NOUN = {"product": "product", "quote": "quote", "sales_invoice": "sales invoice", "sales_return": "sales return",
        "purchase_invoice": "purchase invoice", "purchase_return": "purchase return", "receipt": "receipt",
        "payment": "payment", "return": "return invoice"}

Build = Callable[[dict[str, Any] | None, str, str], tuple[dict[str, Any], Keys]]


class Rejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # not_found, required, duplicate_number, identity_not_found, product_not_found, ...
        self.message = message


def not_found(kind: str, what: str) -> Rejected:
    return Rejected("not_found", f"{NOUN[kind]} {what} not found")


def stamp(clock: Callable[[], datetime]) -> str:
    """Now as the CRM stores it: Tehran local time, millisecond precision."""
    moment = clock()
    return local_text(moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def given_id(value: Any) -> str | None:
    """An id the client really gave: not null, not empty, not the zero GUID."""
    return None if value in (None, "", ZERO_GUID) else str(value).lower()


def type_id(type_code: str) -> str:
    """A stable CrmObjectTypeId per subtype code (the same derivation as for identities)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pg-sandbox:type:{type_code.casefold()}"))


def filled(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def save(docs: DocumentStore, kind: str, crm_id: str | None, build: Build, clock: Callable[[], datetime]) -> str:
    """Create (crm_id None) or replace the document `build(previous, crm_id, now)` returns, in one transaction."""
    with docs.atomic():
        previous = None
        if crm_id is not None:
            previous = docs.get(crm_id, [kind])
            if previous is None:
                raise not_found(kind, crm_id)
        new_id = crm_id or str(uuid.uuid4())
        now = stamp(clock)
        doc, keys = build(previous, new_id, now)
        if previous is not None and previous.get(CRM_NUMBERED):  # the CRM's numbering owns the number
            doc.update(number=previous["number"], **{CRM_NUMBERED: True})
            keys = dataclasses.replace(keys, number=previous["number"])
        try:
            if previous is None:
                docs.insert(new_id, kind, keys, doc, now)
            else:
                docs.replace(new_id, keys, doc, now)
        except DuplicateNumber as exc:
            what = "code" if kind == "product" else "number"
            raise Rejected(f"duplicate_{what}", f"duplicate {what}: a live {NOUN[kind]} with {what}"
                                                f" '{keys.number}' already exists") from exc
    return new_id


def delete_one(docs: DocumentStore, kind: str, what: str, matches: Callable[[], list[tuple[str, dict[str, Any]]]],
               clock: Callable[[], datetime]) -> tuple[str, dict[str, Any]]:
    """Soft-delete the one live document `matches()` finds; refuse when there is none or more than one."""
    with docs.atomic():
        found = matches()
        if not found:
            raise not_found(kind, what)
        if len(found) > 1:
            raise Rejected("ambiguous", f"{len(found)} live {NOUN[kind]}s match {what}; name the type code")
        docs.mark_deleted(found[0][1]["crmId"], stamp(clock))
    return found[0]


def billable_fields(kind: str, crm_id: str, type_code: str, created: str, modified: str) -> dict[str, Any]:
    """The CRM block the server sets on every save of a quote, invoice, return, receipt or payment."""
    return {
        "crmId": crm_id,
        "creatDate": created,
        "modifyDate": modified,
        "crmObjectTypeCode": type_code,
        "crmObjectTypeId": type_id(type_code),
        "crmObjectTypeIndex": TYPE_INDEX[kind],
        "crmObjectTypeName": None,
    }
