"""The served SOAP operations: decoded parameters in, the `<Op>Result` object out (§4.3, §4.4).

- Saves and deletes answer SaveCrmObjectResult `{Message, Success, CrmId}`; a refusal is
  `Success=false`, the reason in `Message` and the zero GUID as `CrmId`.
- Reads answer `{Message, Success, <X>Info, <X>InfoList}` (products: only the list). Nothing
  found is `Success=false`, `Message` "not found", no info and no list. Found: the first
  match as `<X>Info` and all matches in `<X>InfoList`.
- `Delete*ByNumber` of invoices and `DeleteProduct*` answer the deleted record the same way.
- `SearchQuote(typeKey, query)` answers like a read: every live quote of the subtype
  (`typeKey` empty or nil: all) for which the query (soap_search.py) holds, oldest first; a
  query it cannot read is an `s:Client` fault. `SearchPurchaseInvoice`,
  `SearchReturnPurchaseInvoice` and `SearchReturnSaleInvoice` do the same over purchase
  invoices, purchase returns and sales returns (SEARCHED), fields named as in InvoiceInfo.
- `SaveReturnInvoice` saves a purchase return when `CrmObjectTypeIndex` is 16, else a sales
  return (invoices.py); `FindReturnInvoiceById`/`ByNumber` read sales returns only,
  `FindReturnPurchaseInvoiceById` purchase returns; `DeleteReturnInvoiceByNumber` deletes
  the one live return of either kind with that number and subtype (`typeCode`).
- A committed save or delete of a quote calls `notify(kind, event, crm_id)` (webhooks.py):
  event Insert for a save without CrmId, Update with one, Delete for deletes.
"""

from collections.abc import Callable
from typing import Any

from pg_sandbox import crm_types, soap_search
from pg_sandbox.documents import Rejected, given_id
from pg_sandbox.invoices import KIND_OF_TYPE, Invoices
from pg_sandbox.payments import Payments
from pg_sandbox.products import Products
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.soap_codec import client_fault
from pg_sandbox.soap_contract import ZERO_GUID, members

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Notify = Callable[[str, str, str], None]  # (kind, event, crm_id) after a committed write
NOT_FOUND = "not found"
INVOICE_FIELDS = tuple(spec.name for spec in members("InvoiceInfo"))
# IInvoice Search* operation -> the kind it searches
SEARCHED = {"SearchQuote": "quote", "SearchPurchaseInvoice": "purchase_invoice",
            "SearchReturnPurchaseInvoice": "purchase_return", "SearchReturnSaleInvoice": "sales_return"}


def handlers(products: Products, invoices: Invoices, payments: Payments, notify: Notify | None = None,
             settings: Callable[[], SandboxSettings] = SandboxSettings) -> dict[tuple[str, str], Handler]:
    """(service, operation) -> handler, for every operation in soap_contract.OPERATIONS."""
    notify = notify or (lambda kind, event, crm_id: None)
    return {
        ("ICrmObjectType", "GetCrmObjectTypeList"): lambda p: crm_types.type_list(settings(), p),
        ("ICrmObjectType", "GetCrmObjectTypeInfo"): lambda p: crm_types.type_info(settings(), p),
        **{("IProduct", op): handler for op, handler in _product_handlers(products).items()},
        **{("IInvoice", op): handler for op, handler in _invoice_handlers(invoices, notify).items()},
        **{("IPayment", op): handler for op, handler in _payment_handlers(payments).items()},
    }


def _product_handlers(products: Products) -> dict[str, Handler]:
    return {
        "SaveProduct": lambda p: _saved(lambda: products.save(p.get("product"))),
        "FindProductByCode": lambda p: _products(products.by_code(p.get("code"), p.get("groupName"))),
        "FindProductByName": lambda p: _products(products.by_name(p.get("name"), p.get("groupName"))),
        "FindProductById": lambda p: _products(products.by_id(p["id"])),
        "DeleteProductByCode": lambda p: _deleted(_products, lambda: products.delete_by_code(
            p.get("code"), p.get("groupName"))),
        "DeleteProductById": lambda p: _deleted(_products, lambda: products.delete_by_id(p["productId"])),
    }


def _invoice_handlers(invoices: Invoices, notify: Notify) -> dict[str, Handler]:
    def save_invoice(p: dict[str, Any]) -> dict[str, Any]:
        info = p.get("invoiceInfo")
        result = _saved(lambda: invoices.save(info))
        if result["success"] and KIND_OF_TYPE.get(info.get("invoiceType")) == "quote":
            notify("quote", "Update" if given_id(info.get("crmId")) else "Insert", result["crmId"])
        return result

    def deleted_quote(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("invoiceType") == "Quote":
            notify("quote", "Delete", doc["crmId"])
        return doc

    def searcher(kind: str) -> Handler:
        def search(p: dict[str, Any]) -> dict[str, Any]:
            try:
                conditions = soap_search.parse(p.get("query"), INVOICE_FIELDS)
            except soap_search.QueryError as exc:
                raise client_fault(str(exc)) from exc
            return _invoices(invoices.search(kind, p.get("typeKey"), conditions))

        return search

    return {
        "SaveInvoice": save_invoice,
        "SaveReturnInvoice": lambda p: _saved(lambda: invoices.save_return(p.get("returnInvoiceInfo"))),
        "FindInvoiceById": lambda p: _invoices(invoices.by_id(p["invoiceId"], ("sales_invoice",))),
        "FindQuoteById": lambda p: _invoices(invoices.by_id(p["quoteId"], ("quote",))),
        "FindReturnInvoiceById": lambda p: _invoices(invoices.by_id(p["retInvoiceId"], ("sales_return",))),
        "FindPurchaseInvoiceById": lambda p: _invoices(invoices.by_id(p["purchInvoiceId"], ("purchase_invoice",))),
        "FindReturnPurchaseInvoiceById": lambda p: _invoices(invoices.by_id(
            p["retPurchInvoiceId"], ("purchase_return",))),
        "FindInvoiceByNumber": lambda p: _invoices(invoices.by_number(
            KIND_OF_TYPE[p["invoiceType"]], p.get("number"), p.get("typeCode"))),
        "FindReturnInvoiceByNumber": lambda p: _invoices(invoices.by_number(
            "sales_return", p.get("number"), p.get("typeCode"))),
        "DeleteInvoiceById": lambda p: _saved(lambda: deleted_quote(invoices.delete_by_id(
            p["invoiceId"], ("sales_invoice", "quote")))["crmId"]),
        "DeleteInvoiceByNumber": lambda p: _deleted(_invoices, lambda: deleted_quote(invoices.delete_by_number(
            KIND_OF_TYPE[p["invoiceType"]], p.get("number"), p.get("typeCode")))),
        "DeleteReturnInvoiceByNumber": lambda p: _deleted(_invoices, lambda: invoices.delete_return_by_number(
            p.get("number"), p.get("typeCode"))),
        "GetInvoicesByIdentityId": lambda p: _invoices(invoices.by_identity(p["identityId"])),
        **{operation: searcher(kind) for operation, kind in SEARCHED.items()},
    }


def _payment_handlers(payments: Payments) -> dict[str, Handler]:
    return {
        "SavePayment": lambda p: _saved(lambda: payments.save(p.get("paymentInfo"))),
        "FindReceiptByNumber": lambda p: _payments(payments.by_number(
            "receipt", p.get("number"), p.get("crmObjectTypeCode"))),
        "FindPaymentByNumber": lambda p: _payments(payments.by_number(
            "payment", p.get("number"), p.get("crmObjectTypeCode"))),
        "FindReceiptById": lambda p: _payments(payments.by_id(p["receiptId"], ("receipt",))),
        "FindPaymentById": lambda p: _payments(payments.by_id(p["paymentId"], ("payment",))),
        "DeleteReceiptByNumber": lambda p: _saved(lambda: payments.delete_by_number(
            "receipt", p.get("number"))["crmId"]),
        "DeletePaymentByNumber": lambda p: _saved(lambda: payments.delete_by_number(
            "payment", p.get("number"))["crmId"]),
        "DeletePaymentById": lambda p: _saved(lambda: payments.delete_by_id(p["crmId"])["crmId"]),
    }


def _saved(action: Callable[[], str]) -> dict[str, Any]:
    """SaveCrmObjectResult of a save or delete."""
    try:
        crm_id = action()
    except Rejected as exc:
        return {"message": exc.message, "success": False, "crmId": ZERO_GUID}
    return {"message": None, "success": True, "crmId": crm_id}


def _deleted(shape: Callable[[list[dict[str, Any]]], dict[str, Any]],
             action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return shape([action()])
    except Rejected as exc:
        return {"message": exc.message, "success": False}


def _products(docs: list[dict[str, Any]]) -> dict[str, Any]:
    if not docs:
        return {"message": NOT_FOUND, "success": False}
    return {"message": None, "success": True, "productInfoList": docs}


def _invoices(docs: list[dict[str, Any]]) -> dict[str, Any]:
    if not docs:
        return {"message": NOT_FOUND, "success": False}
    return {"message": None, "success": True, "invoiceInfo": docs[0], "invoiceInfoList": docs}


def _payments(docs: list[dict[str, Any]]) -> dict[str, Any]:
    if not docs:
        return {"message": NOT_FOUND, "success": False}
    return {"message": None, "success": True, "paymentInfo": docs[0], "paymentInfoList": docs}
