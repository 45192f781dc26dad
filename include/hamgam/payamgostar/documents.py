"""Typed operations per CRM document kind: what a target calls to save, find and delete one kind of
document, over the client's transports (REST v2 ``call``, SOAP ``soap_call``) and their retries.

A kind is data — its path, or its operations and parameter names as the vendor's contract spells them — so
a new document kind is a new instance (in its entity's spec module), not new client code; an IDE and mypy
follow every call. The instances here are the kinds the CRM's contract documents (§3.1, §4: IInvoice,
IPayment); an entity may build its own from these classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hamgam.payamgostar.answers import (
    created_id,
    found_info,
    found_rows,
    infos,
    object_answer,
    only,
    updated_id,
    with_type,
)
from hamgam.payamgostar.errors import RecordRejected

EQUALS = 0  # FilterOperators.Equals (§3.6)
AND = 0  # logical operator And (§3.6)
REST_DELETE_OPTION = 1  # REST delete `Option`: what GOPG sends, the only evidence of a working value (§3.2)


class Transport(Protocol):
    """What the operations need of a client: its two calls with retries, its Save* with recovery, its
    confirmed delete (``client.PayamgostarClient`` is one; this module does not import it)."""

    delete_option: str

    def call(self, path: str, body: dict[str, Any], *, record: str | None = None,
             recover: Callable[[], Any] | None = None, expect: Callable[[Any], Any] | None = None) -> Any: ...

    def soap_call(self, service: str, operation: str, *, record: str | None = None,
                  recover: Callable[[], Any] | None = None, expect: Callable[[dict[str, Any]], Any] | None = None,
                  **params: Any) -> Any: ...

    def save_billable(self, service: str, operation: str, param: str, info: dict[str, Any],
                      record: str | None, find: Callable[[str, str | None], dict | None]) -> str: ...

    def confirm_deleted(self, result: dict[str, Any], endpoint: str, record: str | None,
                        find: Callable[[], dict | None], *, confirm_success: bool = False) -> bool: ...


class SoapDocument(Protocol):
    """A document kind saved over SOAP (``Save*`` updates when ``CrmId`` is set, creates otherwise), found by
    its id or its number, deleted by its id (a record the ledger stored) or its number."""

    def save(self, client: Transport, info: dict[str, Any], *, record: str | None = None) -> str: ...

    def find_by_id(self, client: Transport, crm_id: str, *, record: str | None = None) -> dict | None: ...

    def find_by_number(self, client: Transport, number: str, type_code: str | None, *,
                       record: str | None = None) -> dict | None: ...

    def delete_by_id(self, client: Transport, crm_id: str, *, record: str | None = None) -> bool: ...

    def delete_by_number(self, client: Transport, number: str, type_code: str | None, *,
                         record: str | None = None) -> bool: ...


# (client, number, type code, record) -> the found *Info with that number, or None
NumberLookup = Callable[[Transport, str, "str | None", "str | None"], "dict | None"]


@dataclass(frozen=True)
class FindByNumber:
    """A SOAP ``Find*ByNumber``: ``number``, the type code under ``type_code_param``, and fixed ``params``;
    its answer's ``<result>`` (or ``<result>List``) with exactly that number."""

    service: str
    operation: str
    result: str = "InvoiceInfo"
    type_code_param: str = "typeCode"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, client: Transport, number: str, type_code: str | None,
                 record: str | None) -> dict | None:
        params: dict[str, Any] = {**self.params, self.type_code_param: type_code, "number": number}
        return client.soap_call(self.service, self.operation, record=record,
                                expect=found_info(self.result, number, record), **params)


@dataclass(frozen=True)
class SearchByNumber:
    """A SOAP ``Search*(typeKey, query)`` asked for one number, for kinds without a ``Find*ByNumber``
    (purchase returns: ``SearchReturnPurchaseInvoice``). The query grammar is not published (§4.5, §7);
    ``Number == "<number>"`` is the ``Field op "value"`` form the vendor's clients use. Success=false reads
    as "none found", as for a find."""

    service: str
    operation: str
    result: str = "InvoiceInfo"

    def __call__(self, client: Transport, number: str, type_code: str | None,
                 record: str | None) -> dict | None:
        if '"' in number:
            raise ValueError(f"a number with a double quote cannot be searched for: {number!r}")
        return client.soap_call(self.service, self.operation, typeKey=type_code or "", query=f'Number == "{number}"',
                                record=record, expect=found_info(self.result, number, record))


@dataclass(frozen=True)
class FindById:
    """A SOAP ``Find*ById(<param>)``: the ``<result>`` whose CrmId is the one asked for (Success=false: none)."""

    service: str
    operation: str
    param: str
    result: str = "InvoiceInfo"

    def __call__(self, client: Transport, crm_id: str, record: str | None) -> dict | None:
        def expect(answer: dict[str, Any]) -> dict | None:
            rows = [row for row in infos(answer, self.result) if str(row.get("CrmId") or "").lower() == crm_id.lower()]
            return only(rows, "CrmId", None, "CrmId", record)

        params: dict[str, Any] = {self.param: crm_id}
        return client.soap_call(self.service, self.operation, record=record, expect=expect, **params)


@dataclass(frozen=True)
class DeleteById:
    """A SOAP ``Delete*ById(<param>, deleteOption)`` answering a SaveCrmObjectResult (§4.3)."""

    service: str
    operation: str
    param: str

    def __call__(self, client: Transport, crm_id: str, record: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {self.param: crm_id, "deleteOption": client.delete_option}
        return client.soap_call(self.service, self.operation, record=record, **params)


@dataclass(frozen=True)
class SoapBillable:
    """A billable document over SOAP: ``save_operation(save_param=info)``, looked up with ``find`` (by number)
    or ``find_id``, deleted with ``delete_id`` or ``delete_operation(number, [type code], deleteOption,
    **delete_params)``. ``type_index`` (the CrmObjectTypes index, §5.1) and ``invoice_type`` are filled in
    where the info leaves them out.

    Numbers are for adoption only (a first create, a recovery): a document the ledger stored is updated and
    deleted by its id, since the CRM's numbering template may blank or rewrite the number we sent."""

    service: str
    save_operation: str
    save_param: str
    find: NumberLookup
    delete_operation: str
    find_id: FindById
    delete_id: DeleteById | None = None  # None: no by-id delete is documented (delete_by_id)
    type_index: int | None = None
    invoice_type: str | None = None
    delete_type_code_param: str | None = "typeCode"  # None: the delete takes no type code
    delete_params: Mapping[str, Any] = field(default_factory=dict)

    def save(self, client: Transport, info: dict[str, Any], *, record: str | None = None) -> str:
        if self.type_index is not None:
            info = with_type(info, self.invoice_type, index=self.type_index)
        return client.save_billable(self.service, self.save_operation, self.save_param, info, record,
                                    lambda number, code: self.find(client, number, code, record))

    def find_by_number(self, client: Transport, number: str, type_code: str | None, *,
                       record: str | None = None) -> dict | None:
        return self.find(client, number, type_code, record)

    def find_by_id(self, client: Transport, crm_id: str, *, record: str | None = None) -> dict | None:
        return self.find_id(client, crm_id, record)

    def delete_by_id(self, client: Transport, crm_id: str, *, record: str | None = None) -> bool:
        """True when deleted, False when the CRM holds no document with this id; either is confirmed by
        ``Find*ById`` (a delete the CRM answered with success but that left the document is a refusal).

        Where the contract documents no by-id delete (sales and purchase returns, §4.3) the document is read
        by id and deleted by the number and type code the CRM holds now — an assumption no CRM has confirmed:
        that number names only this document of its subtype. One the CRM holds without a number cannot be
        deleted that way: refused, naming it."""
        def still_there() -> dict | None:
            return self.find_id(client, crm_id, record)

        if self.delete_id is not None:
            result = self.delete_id(client, crm_id, record)
            endpoint = f"{self.delete_id.service}/{self.delete_id.operation}"
        else:
            held = still_there()
            if held is None:  # "none", unless the CRM refuses us access (confirm_deleted rules that out)
                return client.confirm_deleted({"Success": False}, f"{self.find_id.service}/{self.find_id.operation}",
                                              record, lambda: None)
            number = held.get("Number")
            if not number:
                raise RecordRejected(f"the CRM holds {crm_id} without a number, and {self.delete_operation} deletes"
                                     " by number only: delete it in the CRM", record=record,
                                     endpoint=f"{self.service}/{self.delete_operation}")
            result = self._delete_number(client, number, held.get("CrmObjectTypeCode"), record)
            endpoint = f"{self.service}/{self.delete_operation}"
        return client.confirm_deleted(result, endpoint, record, still_there, confirm_success=True)

    def delete_by_number(self, client: Transport, number: str, type_code: str | None, *,
                         record: str | None = None) -> bool:
        """True when deleted, False when the CRM holds no such document (``type_code`` also narrows the
        look-up that tells "none" from a refusal)."""
        result = self._delete_number(client, number, type_code, record)
        return client.confirm_deleted(result, f"{self.service}/{self.delete_operation}", record,
                                      lambda: self.find(client, number, type_code, record))

    def _delete_number(self, client: Transport, number: str, type_code: str | None,
                       record: str | None) -> dict[str, Any]:
        params = dict(self.delete_params)
        if self.delete_type_code_param:
            params[self.delete_type_code_param] = type_code
        return client.soap_call(self.service, self.delete_operation, number=number,
                                deleteOption=client.delete_option, record=record, **params)


@dataclass(frozen=True)
class RestBillable:
    """A billable document over REST v2 (§3.1-§3.3, camelCase keys): ``<path>/create|update|get|delete|find``."""

    path: str  # "crmobject/invoice/sales"

    def find_by_number(self, client: Transport, number: str, type_code: str | None, *,
                       record: str | None = None) -> dict | None:
        body = {"typeKey": type_code,
                "queries": [{"field": "Number", "operator": EQUALS, "value": number, "logicalOperator": AND}],
                "pageNumber": 1, "pageSize": 2}
        return client.call(f"{self.path}/find", body, record=record,
                           expect=lambda answer: only(found_rows(answer), "number", number, "crmId", record))

    def get(self, client: Transport, crm_id: str, *, record: str | None = None) -> dict:
        return client.call(f"{self.path}/get", {"id": crm_id}, record=record, expect=object_answer)

    def create(self, client: Transport, payload: dict[str, Any], *, record: str | None = None) -> str:
        """A create that is retried first looks for the number it may have created."""
        number, type_code = payload.get("number"), payload.get("crmObjectTypeCode")

        def already_created() -> str | None:
            found = self.find_by_number(client, number, type_code, record=record) if number else None
            return found["crmId"] if found else None

        return client.call(f"{self.path}/create", payload, record=record, recover=already_created,
                           expect=created_id)

    def update(self, client: Transport, crm_id: str, payload: dict[str, Any], *,
               record: str | None = None) -> str:
        return client.call(f"{self.path}/update", {**payload, "crmId": crm_id}, record=record,
                           expect=updated_id(crm_id))

    def delete(self, client: Transport, crm_id: str, *, record: str | None = None) -> None:
        """Raises NotFound when the CRM holds no document with this id."""
        client.call(f"{self.path}/delete", {"Id": crm_id, "Option": REST_DELETE_OPTION}, record=record)


SALES_INVOICE = RestBillable("crmobject/invoice/sales")
QUOTE = SoapBillable("IInvoice", "SaveInvoice", "invoiceInfo",
                     FindByNumber("IInvoice", "FindInvoiceByNumber", params={"invoiceType": "Quote"}),
                     "DeleteInvoiceByNumber", FindById("IInvoice", "FindQuoteById", "quoteId"),
                     DeleteById("IInvoice", "DeleteInvoiceById", "invoiceId"), type_index=8, invoice_type="Quote",
                     delete_params={"invoiceType": "Quote"})
# returns: IInvoice documents no by-id delete for them (delete_by_id reads the number the CRM holds)
SALES_RETURN = SoapBillable("IInvoice", "SaveReturnInvoice", "returnInvoiceInfo",
                            FindByNumber("IInvoice", "FindReturnInvoiceByNumber"), "DeleteReturnInvoiceByNumber",
                            FindById("IInvoice", "FindReturnInvoiceById", "retInvoiceId"),
                            type_index=17)  # ReturnSaleInvoice (§5.1)
# receipts and payments: one SavePayment, the index (Receipt 9, Payment 23, §5.1) sent as the vendor's clients
# do; IPayment has no DeleteReceiptById: a receipt goes by DeletePaymentById with its CrmId (§4.3, unconfirmed)
RECEIPT = SoapBillable("IPayment", "SavePayment", "paymentInfo",
                       FindByNumber("IPayment", "FindReceiptByNumber", "PaymentInfo", "crmObjectTypeCode"),
                       "DeleteReceiptByNumber", FindById("IPayment", "FindReceiptById", "receiptId", "PaymentInfo"),
                       DeleteById("IPayment", "DeletePaymentById", "crmId"), type_index=9,
                       delete_type_code_param=None)
PAYMENT = SoapBillable("IPayment", "SavePayment", "paymentInfo",
                       FindByNumber("IPayment", "FindPaymentByNumber", "PaymentInfo", "crmObjectTypeCode"),
                       "DeletePaymentByNumber", FindById("IPayment", "FindPaymentById", "paymentId", "PaymentInfo"),
                       DeleteById("IPayment", "DeletePaymentById", "crmId"), type_index=23,
                       delete_type_code_param=None)
