"""IInvoice over SOAP (§4.3-§4.5): quotes and sales invoices, sales returns, find and delete."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sandbox_helpers import person
from soap_helpers import ZERO_GUID, invoice, line, product, return_invoice, return_line, unique_code

LOCAL_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?$")


def save(soap, info: str) -> dict:
    return soap.call("IInvoice", "SaveInvoice", info)


def by_number(soap, number, invoice_type="Invoice", type_code=""):
    return soap.call("IInvoice", "FindInvoiceByNumber",
                     f"<number>{number}</number><invoiceType>{invoice_type}</invoiceType><typeCode>{type_code}</typeCode>")


def find_by_id(soap, operation, parameter, crm_id):
    return soap.call("IInvoice", operation, f"<{parameter}>{crm_id}</{parameter}>")


def test_save_invoice_then_find_it_by_id_and_number(soap, identity, product_code):
    number = unique_code("INV")
    saved = save(soap, invoice(identity, number, [line(product_code, count="2")]))

    found = find_by_id(soap, "FindInvoiceById", "invoiceId", saved["CrmId"])
    by_num = by_number(soap, number, type_code="invoice1")  # type codes compare ignoring case

    assert saved["Success"] == "true" and saved["Message"] is None
    info = found["InvoiceInfo"]
    assert found["Success"] == "true" and found["InvoiceInfoList"] == [info] and by_num["InvoiceInfo"] == info
    assert info["CrmId"] == saved["CrmId"] and info["Number"] == number and info["IdentityId"] == identity
    assert info["InvoiceType"] == "Invoice" and info["CrmObjectTypeIndex"] == "5"
    assert info["CrmObjectTypeCode"] == "Invoice1" and info["CrmObjectTypeId"] != ZERO_GUID
    assert info["FinalValue"] == "109000" and info["Vat"] == "9000" and info["VatPercent"] == "9"
    assert info["Discount"] == "0" and info["Toll"] == "0"  # omitted non-nillable members
    assert info["Tags"] == ["tadbir"] and info["RefId"] == f"tadbir:{number}"
    assert info["InvoiceDate"] == "2025-03-21T10:30:00"
    assert LOCAL_DATE.match(info["CreatDate"]) and info["ModifyDate"] == info["CreatDate"]
    [detail] = info["Details"]
    assert detail["ProductCode"] == product_code and detail["Count"] == "2" and detail["Id"] == "1"
    assert detail["ProductName"] == "کالای نمونه"  # filled in from the product
    assert re.match(r"^[0-9a-f-]{36}$", detail["ProductId"])


def test_a_line_may_name_its_product_by_id_only(soap, identity):
    code = unique_code()
    product_id = soap.call("IProduct", "SaveProduct", product(code, unit="ساعت", service=True))["CrmId"]

    saved = save(soap, invoice(identity, unique_code("INV"), [line(product_id=product_id)]))

    [detail] = find_by_id(soap, "FindInvoiceById", "invoiceId", saved["CrmId"])["InvoiceInfo"]["Details"]
    assert detail["ProductId"] == product_id and detail["ProductCode"] == code
    assert detail["ProductUnitTypeName"] == "ساعت"


def test_quote_is_its_own_kind(soap, identity, product_code):
    number = unique_code("Q")
    saved = save(soap, invoice(identity, number, [line(product_code)], invoice_type="Quote", type_code="PI_5"))

    quote = find_by_id(soap, "FindQuoteById", "quoteId", saved["CrmId"])

    assert quote["InvoiceInfo"]["InvoiceType"] == "Quote" and quote["InvoiceInfo"]["CrmObjectTypeIndex"] == "8"
    assert find_by_id(soap, "FindInvoiceById", "invoiceId", saved["CrmId"]) == {
        "Message": "not found", "Success": "false", "InvoiceInfo": None, "InvoiceInfoList": None}
    assert by_number(soap, number, "Quote")["Success"] == "true"
    assert by_number(soap, number, "Invoice")["Success"] == "false"


def test_crm_id_updates_that_record(pg, soap, identity, product_code):
    number = unique_code("INV")
    crm_id = save(soap, invoice(identity, number, [line(product_code)]))["CrmId"]
    before = find_by_id(soap, "FindInvoiceById", "invoiceId", crm_id)["InvoiceInfo"]

    again = save(soap, invoice(identity, number, [line(product_code), line(product_code, count="3")],
                               crm_id=crm_id, final_value="436000"))

    after = find_by_id(soap, "FindInvoiceById", "invoiceId", crm_id)["InvoiceInfo"]
    assert again["CrmId"] == crm_id
    assert after["FinalValue"] == "436000" and [d["Id"] for d in after["Details"]] == ["1", "2"]
    assert after["CreatDate"] == before["CreatDate"] and after["ModifyDate"] >= before["ModifyDate"]
    assert len([r for r in pg.records("sales_invoice") if r["number"] == number]) == 1


def test_update_of_an_unknown_crm_id_is_refused(soap, identity, product_code):
    missing = "11111111-2222-3333-4444-555555555555"
    saved = save(soap, invoice(identity, unique_code("INV"), [line(product_code)], crm_id=missing))
    assert saved["Success"] == "false" and saved["CrmId"] == ZERO_GUID and "not found" in saved["Message"]


def test_number_is_unique_per_invoice_type_and_type_code(soap, identity, product_code):
    number = unique_code("INV")
    assert save(soap, invoice(identity, number, [line(product_code)]))["Success"] == "true"

    duplicate = save(soap, invoice(identity, number, [line(product_code)]))
    as_quote = save(soap, invoice(identity, number, [line(product_code)], invoice_type="Quote"))
    other_code = save(soap, invoice(identity, number, [line(product_code)], type_code="Invoice2"))

    assert duplicate["Success"] == "false" and "duplicate number" in duplicate["Message"]
    assert number in duplicate["Message"] and duplicate["CrmId"] == ZERO_GUID
    assert as_quote["Success"] == "true" and other_code["Success"] == "true"
    assert len(by_number(soap, number)["InvoiceInfoList"]) == 2  # no type code: both subtypes
    assert len(by_number(soap, number, type_code="Invoice2")["InvoiceInfoList"]) == 1


def test_an_unknown_or_deleted_identity_is_refused(soap, api, product_code):
    missing = "11111111-2222-3333-4444-555555555555"
    unknown = save(soap, invoice(missing, unique_code("INV"), [line(product_code)]))
    assert unknown["Success"] == "false" and f"identity {missing} not found" in unknown["Message"]

    gone = api.create("person", person())
    api.post("crmobject/person/delete", {"id": gone})
    deleted = save(soap, invoice(gone, unique_code("INV"), [line(product_code)]))
    assert deleted["Success"] == "false" and "not found" in deleted["Message"]


def test_identity_is_required(soap, product_code):
    body = invoice("x", unique_code("INV"), [line(product_code)]).replace("<a:IdentityId>x</a:IdentityId>", "")
    saved = save(soap, body)
    assert saved["Success"] == "false" and "IdentityId is required" in saved["Message"]


@pytest.mark.parametrize("make_line, mentions", [
    (lambda: line("NO-SUCH-CODE"), "NO-SUCH-CODE"),
    (lambda: line(product_id="11111111-2222-3333-4444-555555555555"), "11111111-2222-3333-4444-555555555555"),
    (lambda: line(), "ProductId or ProductCode"),
])
def test_each_line_must_name_a_live_product(soap, identity, product_code, make_line, mentions):
    saved = save(soap, invoice(identity, unique_code("INV"), [line(product_code), make_line()]))
    assert saved["Success"] == "false" and "line 2" in saved["Message"] and mentions in saved["Message"]


def test_a_deleted_product_cannot_be_sold(soap, identity, product_code):
    soap.call("IProduct", "DeleteProductByCode", f"<code>{product_code}</code><groupName/>")
    saved = save(soap, invoice(identity, unique_code("INV"), [line(product_code)]))
    assert saved["Success"] == "false" and product_code in saved["Message"]


def test_invoice_type_must_be_invoice_or_quote(soap, identity, product_code):
    saved = save(soap, invoice(identity, unique_code("INV"), [line(product_code)], invoice_type="Purchase"))
    assert saved["Success"] == "false" and "InvoiceType" in saved["Message"]


def test_delete_by_number_answers_the_invoice_and_frees_the_number(soap, identity, product_code):
    number = unique_code("INV")
    crm_id = save(soap, invoice(identity, number, [line(product_code)]))["CrmId"]
    params = (f"<number>{number}</number><invoiceType>Invoice</invoiceType><typeCode>Invoice1</typeCode>"
              "<deleteOption>DeleteWithHistory</deleteOption>")

    deleted = soap.call("IInvoice", "DeleteInvoiceByNumber", params)
    again = soap.call("IInvoice", "DeleteInvoiceByNumber", params)

    assert deleted["Success"] == "true" and deleted["InvoiceInfo"]["CrmId"] == crm_id
    assert again["Success"] == "false" and "not found" in again["Message"]
    assert by_number(soap, number)["Success"] == "false"
    assert save(soap, invoice(identity, number, [line(product_code)]))["Success"] == "true"


def test_delete_by_number_without_type_code_refuses_when_ambiguous(soap, identity, product_code):
    number = unique_code("INV")
    save(soap, invoice(identity, number, [line(product_code)]))
    save(soap, invoice(identity, number, [line(product_code)], type_code="Invoice2"))
    params = f"<number>{number}</number><invoiceType>Invoice</invoiceType><typeCode/><deleteOption>Nothing</deleteOption>"

    refused = soap.call("IInvoice", "DeleteInvoiceByNumber", params)

    assert refused["Success"] == "false" and "type code" in refused["Message"]


def test_delete_invoice_by_id(soap, identity, product_code):
    crm_id = save(soap, invoice(identity, unique_code("Q"), [line(product_code)], invoice_type="Quote"))["CrmId"]
    params = f"<invoiceId>{crm_id}</invoiceId><deleteOption>DeleteWithHistory</deleteOption>"

    deleted = soap.call("IInvoice", "DeleteInvoiceById", params)

    assert deleted == {"Message": None, "Success": "true", "CrmId": crm_id}
    assert find_by_id(soap, "FindQuoteById", "quoteId", crm_id)["Success"] == "false"
    assert soap.call("IInvoice", "DeleteInvoiceById", params)["Success"] == "false"


def test_get_invoices_by_identity(soap, identity, product_code):
    ids = [save(soap, invoice(identity, unique_code("INV"), [line(product_code)]))["CrmId"] for _ in range(2)]
    save(soap, invoice(identity, unique_code("Q"), [line(product_code)], invoice_type="Quote"))

    found = soap.call("IInvoice", "GetInvoicesByIdentityId", f"<identityId>{identity}</identityId>")

    assert [i["CrmId"] for i in found["InvoiceInfoList"]] == ids  # sales invoices only


# ---- sales returns ----------------------------------------------------------------------------

def test_return_invoice_round_trip(soap, identity, product_code):
    sold = unique_code("INV")
    sale_id = save(soap, invoice(identity, sold, [line(product_code)]))["CrmId"]
    number = unique_code("RET")

    saved = soap.call("IInvoice", "SaveReturnInvoice",
                      return_invoice(identity, number, [return_line(product_code, invoice_number=sold)]))
    found = find_by_id(soap, "FindReturnInvoiceById", "retInvoiceId", saved["CrmId"])
    by_num = soap.call("IInvoice", "FindReturnInvoiceByNumber", f"<number>{number}</number><typeCode>Return1</typeCode>")

    assert saved["Success"] == "true", saved
    info = found["InvoiceInfo"]  # returns read back as InvoiceInfo (§4.4)
    assert info["CrmObjectTypeIndex"] == "17" and info["Number"] == number and by_num["InvoiceInfo"] == info
    [detail] = info["Details"]
    assert detail["ProductCode"] == product_code and detail["ProductId"] != ZERO_GUID
    assert find_by_id(soap, "FindInvoiceById", "invoiceId", saved["CrmId"])["Success"] == "false"
    assert sale_id != saved["CrmId"]


def test_return_line_related_invoice_by_id(pg, soap, identity, product_code):
    sale_id = save(soap, invoice(identity, unique_code("INV"), [line(product_code)]))["CrmId"]
    saved = soap.call("IInvoice", "SaveReturnInvoice",
                      return_invoice(identity, unique_code("RET"), [return_line(product_code, invoice_id=sale_id)]))
    assert saved["Success"] == "true"
    [record] = [r for r in pg.records("sales_return") if r["crmId"] == saved["CrmId"]]
    related = record["details"][0]["relatedInvoices"][0]["relatedInvoiceInfo"]
    assert related["relatedInvoiceId"] == sale_id and related["relatedInvoiceTypeCode"] == "Invoice1"


@pytest.mark.parametrize("make_line, mentions", [
    (lambda code: return_line(code, invoice_number="NO-SUCH-INVOICE"), "NO-SUCH-INVOICE"),
    (lambda code: return_line(code, invoice_id="11111111-2222-3333-4444-555555555555"), "11111111-2222"),
    (lambda code: return_line("NO-SUCH-CODE"), "NO-SUCH-CODE"),
])
def test_return_references_must_exist(soap, identity, product_code, make_line, mentions):
    saved = soap.call("IInvoice", "SaveReturnInvoice",
                      return_invoice(identity, unique_code("RET"), [make_line(product_code)]))
    assert saved["Success"] == "false" and mentions in saved["Message"]


def test_return_number_is_unique_and_delete_frees_it(soap, identity, product_code):
    number = unique_code("RET")
    body = return_invoice(identity, number, [return_line(product_code)])
    assert soap.call("IInvoice", "SaveReturnInvoice", body)["Success"] == "true"
    assert "duplicate number" in soap.call("IInvoice", "SaveReturnInvoice", body)["Message"]

    deleted = soap.call("IInvoice", "DeleteReturnInvoiceByNumber",
                        f"<number>{number}</number><typeCode>Return1</typeCode><deleteOption>Nothing</deleteOption>")

    assert deleted["Success"] == "true" and deleted["InvoiceInfo"]["Number"] == number
    assert soap.call("IInvoice", "SaveReturnInvoice", body)["Success"] == "true"


def test_concurrent_saves_with_one_number_make_one_invoice(soap, identity, product_code):
    body = invoice(identity, unique_code("INV"), [line(product_code)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(lambda _: save(soap, body)["Success"], range(8)))

    assert outcomes == ["false"] * 7 + ["true"]
