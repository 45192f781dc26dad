"""Purchase invoices (REST invoice/purchase/*, §3.1) and purchase returns (SOAP SaveReturnInvoice with
CrmObjectTypeIndex 16, SearchReturnPurchaseInvoice, FindReturnPurchaseInvoiceById, §4.3, §5.1), as the CRM has
them: kinds of their own, with their own numbers, apart from sales invoices and sales returns."""

import itertools
import sqlite3
import uuid
from xml.sax.saxutils import escape

import pytest
import requests
from sandbox_helpers import assert_error
from soap_helpers import (
    ZERO_GUID,
    envelope,
    invoice,
    line,
    read_fault,
    return_invoice,
    return_line,
    unique_code,
)

from pg_sandbox.document_store import DocumentStore, Keys
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.store import Store

PURCHASE = "crmobject/invoice/purchase"
SALES = "crmobject/invoice/sales"
PURCHASE_INVOICE = SandboxSettings.purchase_invoice_type_code  # "purchase_invoice"
PURCHASE_RETURN = SandboxSettings.purchase_return_type_code  # "purchase_return"
MISSING = "11111111-2222-3333-4444-555555555555"
_serial = itertools.count(1)


def tadbir_number() -> str:
    """A number shaped like hamgam's (`100-1403/7`), unique in this session."""
    return f"100-1403/{uuid.uuid4().int % 10**6}{next(_serial)}"


def invoice_body(identity: str, product_code: str, **fields) -> dict:
    """A PurchaseInvoiceCreateModel (the same fields as SalesInvoiceCreateModel, §3.3)."""
    return {"crmObjectTypeCode": PURCHASE_INVOICE, "identityId": identity, "number": tadbir_number(),
            "invoiceDate": "2025-03-21T10:30:00", "totalValue": 100000, "vat": 9000, "vatPercent": 9,
            "finalValue": 109000, "refId": "tadbir:100:purchase_invoices:1",
            "details": [{"productCode": product_code, "count": 2, "baseUnitPrice": 50000, "totalUnitPrice": 100000,
                         "totalVat": 9000, "finalUnitPrice": 54500}],
            **fields}


def create(api, body: dict, prefix: str = PURCHASE) -> str:
    return api.ok(f"{prefix}/create", body)["crmId"]


def find_number(api, number: str, prefix: str = PURCHASE, **model) -> dict:
    return api.ok(f"{prefix}/find", {"queries": [{"field": "Number", "operator": 0, "value": number}], **model})


# ---- REST invoice/purchase -----------------------------------------------------------------------

def test_purchase_invoice_create_get_update_find_delete(api, identity, product_code):
    sent = invoice_body(identity, product_code, tags=["tadbir"], description="خرید از تأمین‌کننده",
                        extendedProperties=[{"userKey": "TadbirNo", "value": "7"}])

    crm_id = create(api, sent)
    got = api.ok(f"{PURCHASE}/get", {"id": crm_id})

    assert got["crmId"] == crm_id and got["number"] == sent["number"] and got["identityId"] == identity
    assert got["crmObjectTypeIndex"] == 15 and got["crmObjectTypeCode"] == PURCHASE_INVOICE  # PurchaseInvoice (§5.1)
    assert got["invoiceType"] == "Invoice" and got["relatedQuoteId"] is None
    assert got["finalValue"] == 109000 and got["tags"] == ["tadbir"] and got["description"] == sent["description"]
    assert got["extendedProperties"] == [{"name": None, "value": "7", "userKey": "TadbirNo", "preview": None}]
    [detail] = got["details"]
    assert detail["productCode"] == product_code and detail["count"] == 2 and detail["productName"] == "کالای نمونه"
    sales_keys = set(api.ok(f"{SALES}/get", {"id": create(api, {**invoice_body(identity, product_code),
                                                                 "crmObjectTypeCode": "Invoice1"}, SALES)}))
    assert set(got) == sales_keys  # the same InvoiceGetResult as a sales invoice

    assert api.ok(f"{PURCHASE}/update", {"crmId": crm_id, "finalValue": 218000, "description": "اصلاح"}) == {
        "crmId": crm_id}
    updated = api.ok(f"{PURCHASE}/get", {"id": crm_id})
    assert (updated["finalValue"], updated["description"], updated["details"]) == (218000, "اصلاح", got["details"])
    assert updated["creatDate"] == got["creatDate"] and updated["modifyDate"] >= got["modifyDate"]

    found = find_number(api, sent["number"], typeKey=PURCHASE_INVOICE)
    assert found["total"] == 1 and found["data"][0]["crmId"] == crm_id
    assert find_number(api, sent["number"], typeKey="Invoice1") == {"total": 0, "data": []}

    response = api.post(f"{PURCHASE}/delete", {"Id": crm_id, "Option": 1})
    assert response.status_code == 200 and response.content == b""
    assert_error(api.post(f"{PURCHASE}/get", {"id": crm_id}), 404, "not_found", mentions="purchase invoice")
    assert find_number(api, sent["number"])["total"] == 0
    create(api, invoice_body(identity, product_code, number=sent["number"]))  # the number is free again


def test_purchase_invoice_number_is_unique_among_purchase_invoices(api, identity, product_code):
    body = invoice_body(identity, product_code)
    create(api, body)

    assert_error(api.post(f"{PURCHASE}/create", body), 400, "duplicate_number", mentions=body["number"])
    assert "purchase invoice" in api.post(f"{PURCHASE}/create", body).json()["errorMessage"]


def test_purchase_and_sales_invoices_do_not_see_each_other(api, identity, product_code):
    number = tadbir_number()
    purchase_id = create(api, invoice_body(identity, product_code, number=number))
    sales_id = create(api, invoice_body(identity, product_code, number=number, crmObjectTypeCode="Invoice1"), SALES)

    assert purchase_id != sales_id  # one number, two kinds: both saved
    assert [row["crmId"] for row in find_number(api, number)["data"]] == [purchase_id]
    assert [row["crmId"] for row in find_number(api, number, SALES)["data"]] == [sales_id]
    assert purchase_id not in {row["crmId"] for row in api.ok(f"{SALES}/find", {"pageSize": 10000})["data"]}
    assert sales_id not in {row["crmId"] for row in api.ok(f"{PURCHASE}/find", {"pageSize": 10000})["data"]}
    assert_error(api.post(f"{SALES}/get", {"id": purchase_id}), 404)
    assert_error(api.post(f"{PURCHASE}/get", {"id": sales_id}), 404)
    assert_error(api.post(f"{SALES}/update", {"crmId": purchase_id, "finalValue": 1}), 404)
    assert_error(api.post(f"{SALES}/delete", {"id": purchase_id}), 404)
    assert_error(api.post(f"{PURCHASE}/delete", {"id": sales_id}), 404)
    assert api.ok(f"{PURCHASE}/get", {"id": purchase_id})["finalValue"] == 109000  # untouched
    assert api.ok(f"{SALES}/get", {"id": sales_id})["crmObjectTypeIndex"] == 5


def test_unknown_purchase_invoice_ids_are_404(api):
    assert_error(api.post(f"{PURCHASE}/get", {"id": MISSING}), 404, "not_found", mentions=MISSING)
    assert_error(api.post(f"{PURCHASE}/update", {"crmId": MISSING, "finalValue": 1}), 404)
    assert_error(api.post(f"{PURCHASE}/delete", {"id": MISSING}), 404)
    assert_error(api.post(f"{PURCHASE}/delete", {"id": MISSING, "option": 9}), 400, "invalid_option")


@pytest.mark.parametrize("change, error, mentions", [
    ({"identityId": MISSING}, "identity_not_found", MISSING),
    ({"identityId": None}, "required", "IdentityId"),
    ({"details": [{"productCode": "NO-SUCH-CODE", "count": 1}]}, "product_not_found", "NO-SUCH-CODE"),
    ({"crmObjectTypeCode": None}, "required", "CrmObjectTypeCode"),
    ({"relatedQuoteId": MISSING}, "quote_not_found", "purchase quote"),
])
def test_purchase_invoice_references_are_checked(api, identity, product_code, change, error, mentions):
    body = invoice_body(identity, product_code, **change)
    assert_error(api.post(f"{PURCHASE}/create", body), 400, error, mentions=mentions)


@pytest.mark.parametrize("field, value", [("vatPercent", "9"), ("totalValue", None), ("details", {}),
                                          ("invoiceDate", "not a date"), ("stageId", "not-a-guid")])
def test_purchase_invoice_binds_strictly(api, identity, product_code, field, value):
    error = assert_error(api.post(f"{PURCHASE}/create", invoice_body(identity, product_code, **{field: value})),
                         400, "invalid_type", mentions=field)
    assert "Path: $." + field in error["error_description"]


def test_purchase_invoice_needs_a_token(api, identity, product_code):
    assert_error(api.post(f"{PURCHASE}/create", invoice_body(identity, product_code), token=None), 401)


def test_purchase_type_codes_are_the_purchase_kinds_own(pg, api, identity, product_code):
    assert_error(api.post(f"{PURCHASE}/create", invoice_body(identity, product_code, crmObjectTypeCode="Invoice1")),
                 400, "unknown_type", mentions="purchase_invoice")
    assert_error(api.post(f"{SALES}/create", invoice_body(identity, product_code)), 400, "unknown_type",
                 mentions="purchase invoice type")
    assert create(api, invoice_body(identity, product_code, crmObjectTypeCode="PURCHASE_INVOICE"))  # any case

    pg.set_faults(purchase_invoice_type_code="PI_15")
    assert create(api, invoice_body(identity, product_code, crmObjectTypeCode="PI_15"))
    assert_error(api.post(f"{PURCHASE}/create", invoice_body(identity, product_code)), 400, "unknown_type")


def test_purchase_calls_are_counted_and_take_the_fault_path(pg, api, identity, product_code):
    pg.reset_stats()
    body = invoice_body(identity, product_code)
    crm_id = create(api, body)
    find_number(api, body["number"])
    pg.set_faults(error_after_commit_rate=1.0)
    late = invoice_body(identity, product_code)
    assert api.post(f"{PURCHASE}/create", late).status_code == 500
    pg.set_faults(error_after_commit_rate=0.0, error_rate=1.0)
    assert api.post(f"{PURCHASE}/get", {"id": crm_id}).status_code == 500

    stats = pg.stats()
    assert stats["calls"] == {"invoice/purchase/create": 2, "invoice/purchase/find": 1, "invoice/purchase/get": 1}
    assert stats["writes"] == 2 and stats["faults"] == {"error_after_commit": 1, "error": 1}
    numbers = {record["number"] for record in pg.records("purchase_invoice")}
    assert {body["number"], late["number"]} <= numbers  # the write behind the 500 was kept


# ---- SOAP purchase returns -------------------------------------------------------------------------

def save_return(soap, identity: str, number: str, lines: list[str], **options) -> dict:
    options.setdefault("type_code", PURCHASE_RETURN)
    options.setdefault("index", 16)
    return soap.call("IInvoice", "SaveReturnInvoice", return_invoice(identity, number, lines, **options))


def purchase_line(code: str, **related) -> str:
    return return_line(code, invoice_type_code=PURCHASE_INVOICE, **related)


def search(soap, operation: str, query: str | None, type_key: str | None = "") -> dict:
    key = '<typeKey i:nil="true"/>' if type_key is None else f"<typeKey>{escape(type_key)}</typeKey>"
    text = '<query i:nil="true"/>' if query is None else f"<query>{escape(query)}</query>"
    return soap.call("IInvoice", operation, key + text)


def ids(answer: dict) -> list[str]:
    return [info["CrmId"] for info in answer.get("InvoiceInfoList") or []]


def delete_return(soap, number: str, type_code: str) -> dict:
    return soap.call("IInvoice", "DeleteReturnInvoiceByNumber",
                     f"<number>{escape(number)}</number><typeCode>{type_code}</typeCode>"
                     "<deleteOption>DeleteWithHistory</deleteOption>")


def test_purchase_return_round_trip(soap, api, identity, product_code):
    bought = invoice_body(identity, product_code)
    purchase_id = create(api, bought)
    number = "100-1403/7"

    saved = save_return(soap, identity, number, [purchase_line(product_code, invoice_number=bought["number"])])
    assert saved["Success"] == "true" and saved["CrmId"] != ZERO_GUID, saved

    found = search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"', PURCHASE_RETURN)
    info = found["InvoiceInfo"]  # read back as InvoiceInfo (§4.4)
    assert found["Success"] == "true" and found["InvoiceInfoList"] == [info] and info["CrmId"] == saved["CrmId"]
    assert info["CrmObjectTypeIndex"] == "16" and info["CrmObjectTypeCode"] == PURCHASE_RETURN
    assert info["Number"] == number and info["IdentityId"] == identity
    [detail] = info["Details"]
    assert detail["ProductCode"] == product_code and detail["ProductId"] != ZERO_GUID
    by_id = soap.call("IInvoice", "FindReturnPurchaseInvoiceById",
                      f"<retPurchInvoiceId>{saved['CrmId']}</retPurchInvoiceId>")
    assert by_id["InvoiceInfo"] == info
    for spelling in (f'number=="{number}"', f"Number = {number}", f'Number == "{number}" & IdentityId == "{identity}"'):
        assert ids(search(soap, "SearchReturnPurchaseInvoice", spelling, None)) == [saved["CrmId"]], spelling

    # not a sales return
    assert soap.call("IInvoice", "FindReturnInvoiceByNumber",
                     f"<number>{number}</number><typeCode>{PURCHASE_RETURN}</typeCode>")["Success"] == "false"
    assert soap.call("IInvoice", "FindReturnInvoiceByNumber", f"<number>{number}</number><typeCode/>")[
        "Success"] == "false"
    assert soap.call("IInvoice", "FindReturnInvoiceById", f"<retInvoiceId>{saved['CrmId']}</retInvoiceId>")[
        "Success"] == "false"
    assert search(soap, "SearchReturnSaleInvoice", f'Number == "{number}"')["Success"] == "false"

    deleted = delete_return(soap, number, PURCHASE_RETURN)
    assert deleted["Success"] == "true" and deleted["InvoiceInfo"]["CrmId"] == saved["CrmId"]
    assert search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"') == {
        "Message": "not found", "Success": "false", "InvoiceInfo": None, "InvoiceInfoList": None}
    assert delete_return(soap, number, PURCHASE_RETURN)["Success"] == "false"
    assert api.ok(f"{PURCHASE}/get", {"id": purchase_id})["crmId"] == purchase_id  # the invoice stays


def test_purchase_return_names_purchase_invoices(pg, soap, api, identity, product_code):
    bought = invoice_body(identity, product_code)
    purchase_id = create(api, bought)
    sold = unique_code("INV")
    soap.call("IInvoice", "SaveInvoice", invoice(identity, sold, [line(product_code)]))

    by_id = save_return(soap, identity, tadbir_number(), [purchase_line(product_code, invoice_id=purchase_id)])
    assert by_id["Success"] == "true", by_id
    [record] = [r for r in pg.records("purchase_return") if r["crmId"] == by_id["CrmId"]]
    assert record["details"][0]["relatedInvoices"][0]["relatedInvoiceInfo"] == {
        "relatedInvoiceId": purchase_id, "relatedInvoiceNumber": bought["number"],
        "relatedInvoiceTypeCode": PURCHASE_INVOICE}

    for related in ({"invoice_number": "NO-SUCH-INVOICE"}, {"invoice_id": MISSING},
                    {"invoice_number": sold}):  # a sales invoice is no purchase invoice
        refused = save_return(soap, identity, tadbir_number(), [purchase_line(product_code, **related)])
        assert refused["Success"] == "false" and refused["CrmId"] == ZERO_GUID
        assert "related purchase invoice" in refused["Message"] and "not found" in refused["Message"]

    # and a sales return names sales invoices only
    as_sale = soap.call("IInvoice", "SaveReturnInvoice", return_invoice(
        identity, unique_code("RET"), [return_line(product_code, invoice_number=bought["number"])]))
    assert as_sale["Success"] == "false" and "related sales invoice" in as_sale["Message"]

    api.post(f"{PURCHASE}/delete", {"id": purchase_id})
    gone = save_return(soap, identity, tadbir_number(), [purchase_line(product_code, invoice_id=purchase_id)])
    assert gone["Success"] == "false" and purchase_id in gone["Message"]


@pytest.mark.parametrize("options, mentions", [
    ({"type_code": "Return1"}, "purchase_return"),  # index 16 with a sales code
    ({"index": 17}, "purchase return type"),  # the purchase code on a sales return
    ({"index": None}, "CrmObjectTypeIndex 16"),  # ... also when the index is left out
    ({"index": 5}, "CrmObjectTypeIndex must be 16"),
])
def test_index_and_type_code_must_agree(soap, identity, product_code, options, mentions):
    saved = save_return(soap, identity, tadbir_number(), [purchase_line(product_code)], **options)
    assert saved["Success"] == "false" and mentions in saved["Message"], saved


def test_a_sales_return_and_a_purchase_return_may_share_a_number(soap, identity, product_code):
    number = tadbir_number()
    purchase = save_return(soap, identity, number, [purchase_line(product_code)])
    sale = save_return(soap, identity, number, [return_line(product_code)], type_code="Return1", index=17)
    assert purchase["Success"] == sale["Success"] == "true"
    assert "duplicate number" in save_return(soap, identity, number, [purchase_line(product_code)])["Message"]

    ambiguous = soap.call("IInvoice", "DeleteReturnInvoiceByNumber",
                          f"<number>{number}</number><typeCode/><deleteOption>Nothing</deleteOption>")
    assert ambiguous["Success"] == "false" and "type code" in ambiguous["Message"]
    assert delete_return(soap, number, "Return2")["Success"] == "false"  # no such subtype

    assert delete_return(soap, number, "RETURN1")["InvoiceInfo"]["CrmId"] == sale["CrmId"]  # codes ignore case
    assert ids(search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"')) == [purchase["CrmId"]]
    only_one_left = soap.call("IInvoice", "DeleteReturnInvoiceByNumber",
                              f"<number>{number}</number><typeCode/><deleteOption>Nothing</deleteOption>")
    assert only_one_left["InvoiceInfo"]["CrmId"] == purchase["CrmId"]


def test_search_return_purchase_invoice_by_subtype_and_query(pg, soap, identity, product_code):
    pg.set_faults(purchase_return_type_code="RP_16")
    number = f"۱۰۰-۱۴۰۳/{next(_serial)}"  # Persian digits
    saved = save_return(soap, identity, number, [purchase_line(product_code)], type_code="RP_16")
    assert saved["Success"] == "true", saved

    assert ids(search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"', "rp_16")) == [saved["CrmId"]]
    assert ids(search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"', None)) == [saved["CrmId"]]
    assert search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"', PURCHASE_RETURN)["Success"] == "false"
    assert saved["CrmId"] in ids(search(soap, "SearchReturnPurchaseInvoice", "", "RP_16"))
    assert search(soap, "SearchReturnPurchaseInvoice", f'Number != "{number}" & CrmObjectTypeCode == "RP_16"',
                  "")["Success"] == "false"

    code, text = read_fault(soap.post("IInvoice", "SearchReturnPurchaseInvoice", envelope(
        "SearchReturnPurchaseInvoice", "<typeKey/><query>Number ~ \"x\"</query>")))
    assert code == "s:Client" and "The query is not valid" in text


def test_search_purchase_invoice_and_return_sale_invoice(soap, api, identity, product_code):
    bought = invoice_body(identity, product_code)
    purchase_id = create(api, bought)
    sales_return = soap.call("IInvoice", "SaveReturnInvoice", return_invoice(
        identity, bought["number"], [return_line(product_code)], index=17))  # the same number, another kind

    found = search(soap, "SearchPurchaseInvoice", f'Number == "{bought["number"]}"', PURCHASE_INVOICE)
    assert ids(found) == [purchase_id] and found["InvoiceInfo"]["CrmObjectTypeIndex"] == "15"
    assert found["InvoiceInfo"]["InvoiceType"] == "Invoice" and found["InvoiceInfo"]["FinalValue"] == "109000"
    assert ids(search(soap, "SearchReturnSaleInvoice", f'Number == "{bought["number"]}"')) == [sales_return["CrmId"]]
    assert search(soap, "SearchReturnPurchaseInvoice", f'Number == "{bought["number"]}"')["Success"] == "false"

    by_id = soap.call("IInvoice", "FindPurchaseInvoiceById", f"<purchInvoiceId>{purchase_id}</purchInvoiceId>")
    assert by_id["InvoiceInfo"] == found["InvoiceInfo"]
    assert soap.call("IInvoice", "FindInvoiceById", f"<invoiceId>{purchase_id}</invoiceId>")["Success"] == "false"
    assert soap.call("IInvoice", "FindInvoiceByNumber", f"<number>{bought['number']}</number>"
                     "<invoiceType>Invoice</invoiceType><typeCode/>")["Success"] == "false"


def test_purchase_return_calls_are_counted_and_take_the_fault_path(pg, soap, identity, product_code):
    pg.reset_stats()
    number = tadbir_number()
    pg.set_faults(soap_fault_after_commit_rate=1.0)
    code, _ = read_fault(soap.post("IInvoice", "SaveReturnInvoice", envelope("SaveReturnInvoice", return_invoice(
        identity, number, [purchase_line(product_code)], type_code=PURCHASE_RETURN, index=16))))
    pg.set_faults(soap_fault_after_commit_rate=0.0)
    found = search(soap, "SearchReturnPurchaseInvoice", f'Number == "{number}"')
    soap.call("IInvoice", "FindReturnPurchaseInvoiceById", f"<retPurchInvoiceId>{MISSING}</retPurchInvoiceId>")
    delete_return(soap, number, PURCHASE_RETURN)

    stats = pg.stats()
    assert code == "s:Client" and found["Success"] == "true"  # the save behind the fault was kept
    assert stats["calls"] == {"IInvoice/SaveReturnInvoice": 1, "IInvoice/SearchReturnPurchaseInvoice": 1,
                              "IInvoice/FindReturnPurchaseInvoiceById": 1, "IInvoice/DeleteReturnInvoiceByNumber": 1}
    assert stats["writes"] == 2 and stats["faults"] == {"soap_fault_after_commit": 1}


def test_the_page_and_records_name_the_purchase_kinds(pg, api, soap, identity, product_code):
    create(api, invoice_body(identity, product_code))
    save_return(soap, identity, tadbir_number(), [purchase_line(product_code)])
    kinds = {record["kind"] for record in pg.records("purchase_invoice", "purchase_return")}
    assert kinds == {"purchase_invoice", "purchase_return"}
    html = requests.get(f"{pg.base_url}/_sandbox/", timeout=10).text
    assert "فاکتور خرید (purchase invoice)" in html and "برگشت از خرید (purchase return)" in html


# ---- a database made before the purchase kinds --------------------------------------------------

OLD_TABLE = """
CREATE TABLE documents (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable order
    crm_id      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('product', 'quote', 'sales_invoice', 'sales_return', 'receipt', 'payment')),
    type_code   TEXT NOT NULL DEFAULT '',
    number      TEXT,
    identity_id TEXT,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX documents_live_number ON documents (kind, type_code, number COLLATE NOCASE)
    WHERE deleted = 0 AND number IS NOT NULL AND number <> '';
INSERT INTO documents (seq, crm_id, kind, type_code, number, created_at, modified_at, doc)
    VALUES (41, 'old-1', 'sales_invoice', 'invoice1', '100-1403/7', 't', 't', '{"crmId": "old-1"}');
"""


def test_an_older_database_learns_the_purchase_kinds(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_TABLE)

    store = Store(path)
    docs = DocumentStore(store)
    docs.insert("new-1", "purchase_invoice", Keys("100-1403/7", "purchase_invoice"), {"crmId": "new-1"}, "t")
    docs.insert("new-2", "sales_invoice", Keys("100-1403/8", "invoice1"), {"crmId": "new-2"}, "t")

    assert [(kind, doc["crmId"]) for kind, doc in docs.find()] == [
        ("sales_invoice", "old-1"), ("purchase_invoice", "new-1"), ("sales_invoice", "new-2")]
    assert store.query("SELECT seq FROM documents WHERE crm_id = 'new-2'") == [(43,)]  # ids and order kept
    with pytest.raises(Exception, match="duplicate|UNIQUE|100-1403/7"):  # the unique index is back
        docs.insert("new-3", "sales_invoice", Keys("100-1403/7", "invoice1"), {"crmId": "new-3"}, "t")
    store.close()
    again = DocumentStore(Store(path))  # opening a migrated database changes nothing
    assert len(again.find()) == 3
