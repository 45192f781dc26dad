"""REST v2 sales invoices (invoice/sales/*) and quotes (quote/sales/get), §3.1-§3.4, §3.6.

Sales invoices share one store with SOAP SaveInvoice(InvoiceType=Invoice).
"""

import re

import pytest
from sandbox_helpers import assert_error
from soap_helpers import invoice, line, unique_code

LOCAL_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?$")
GET_RESULT_KEYS = {
    "relatedQuoteId", "priceListName", "discount", "vat", "toll", "additionalCosts", "totalValue", "invoiceDate",
    "expireDate", "vatPercent", "tollPercent", "invoiceType", "details", "discountPercent", "totalDiscountPercent",
    "finalValue", "number", "billableObjectState", "crmId", "crmObjectTypeName", "crmObjectTypeCode",
    "crmObjectTypeIndex", "crmObjectTypeId", "parentCrmObjectId", "extendedProperties", "creatDate", "modifyDate",
    "tags", "refId", "stage", "stageId", "processLifePathIndex", "description", "subject", "identityId",
    "assignedToUserName"}
LINE_KEYS = {"productCode", "productId", "productName", "isService", "baseUnitPrice", "finalUnitPrice", "count",
             "returnedCount", "totalUnitPrice", "serial", "totalDiscount", "totalVat", "totalToll", "discountPercent",
             "detailDescription", "inventoryName", "inventoryCode", "productUnitTypeName"}
QUOTE_KEYS = {
    "priceListName", "discount", "vat", "toll", "additionalCosts", "totalValue", "finalValue", "discountPercent",
    "totalDiscountPercent", "vatPercent", "tollPercent", "quoteDate", "expireDate", "quoteType", "details", "number",
    "billableObjectState", "billableObjectStateIndex", "crmId", "crmObjectTypeIndex", "crmObjectTypeName",
    "crmObjectTypeId", "crmObjectTypeCode", "crmObjectTypeIndexPreview", "parentCrmObjectId", "extendedProperties",
    "creatDate", "modifyDate", "tags", "refId", "stageId", "identityId", "identityIdPreview", "description",
    "subject", "processLifePaths", "color", "modifierId", "modifierIdPreview", "creatorId", "creatorIdPreview",
    "assignedToId", "assignedToIdPreview"}


def sales_invoice(identity: str, product_code: str, **fields) -> dict:
    return {"crmObjectTypeCode": "Invoice1", "identityId": identity, "number": unique_code("INV"),
            "invoiceDate": "2025-03-21T10:30:00", "totalValue": 100000, "vat": 9000, "vatPercent": 9,
            "finalValue": 109000, "refId": "tadbir:1",
            "details": [{"productCode": product_code, "count": 1, "baseUnitPrice": 100000, "totalUnitPrice": 100000,
                         "totalVat": 9000, "finalUnitPrice": 109000}],
            **fields}


def create(api, body) -> str:
    return api.ok("crmobject/invoice/sales/create", body)["crmId"]


def get(api, crm_id) -> dict:
    return api.ok("crmobject/invoice/sales/get", {"id": crm_id})


def find_number(api, number, **model) -> dict:
    return api.ok("crmobject/invoice/sales/find",
                  {"queries": [{"field": "Number", "operator": 0, "value": number}], **model})


def test_create_get_round_trip(api, identity, product_code):
    sent = sales_invoice(identity, product_code, tags=["tadbir"],
                         extendedProperties=[{"userKey": "TadbirNo", "value": "42"}])

    crm_id = create(api, sent)
    got = get(api, crm_id)

    assert set(got) == GET_RESULT_KEYS and set(got["details"][0]) == LINE_KEYS
    assert got["crmId"] == crm_id and got["number"] == sent["number"] and got["identityId"] == identity
    assert got["invoiceType"] == "Invoice" and got["crmObjectTypeIndex"] == 5
    assert got["finalValue"] == 109000 and got["vat"] == 9000 and got["discount"] == 0
    assert got["invoiceDate"] == "2025-03-21T10:30:00" and LOCAL_DATE.match(got["creatDate"])
    assert got["tags"] == ["tadbir"]
    assert got["extendedProperties"] == [{"name": None, "value": "42", "userKey": "TadbirNo", "preview": None}]
    [detail] = got["details"]
    assert detail["productCode"] == product_code and detail["productName"] == "کالای نمونه" and detail["count"] == 1


def test_pascal_case_body(api, identity, product_code):
    body = {"CrmObjectTypeCode": "Invoice1", "IdentityId": identity, "Number": unique_code("INV"),
            "FinalValue": 5, "Details": [{"ProductCode": product_code, "Count": 2}]}
    assert get(api, create(api, body))["details"][0]["count"] == 2


def test_rest_and_soap_share_the_store(api, soap, identity, product_code):
    rest_id = create(api, sales_invoice(identity, product_code))
    number = unique_code("INV")
    soap_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, number, [line(product_code)]))["CrmId"]

    from_soap = soap.call("IInvoice", "FindInvoiceById", f"<invoiceId>{rest_id}</invoiceId>")
    from_rest = find_number(api, number)

    assert from_soap["Success"] == "true" and from_soap["InvoiceInfo"]["FinalValue"] == "109000"
    assert from_rest["total"] == 1 and from_rest["data"][0]["crmId"] == soap_id
    # one number index for both surfaces
    assert_error(api.post("crmobject/invoice/sales/create", sales_invoice(identity, product_code, number=number)),
                 400, "duplicate_number", mentions=number)


def test_update_replaces_the_keys_sent(api, identity, product_code):
    crm_id = create(api, sales_invoice(identity, product_code, description="اول"))
    before = get(api, crm_id)

    answer = api.ok("crmobject/invoice/sales/update", {"crmId": crm_id, "finalValue": 218000,
                                                       "details": before["details"] * 2})
    after = get(api, crm_id)

    assert answer == {"crmId": crm_id}
    assert after["finalValue"] == 218000 and after["description"] == "اول" and len(after["details"]) == 2
    assert after["number"] == before["number"] and after["creatDate"] == before["creatDate"]


def test_update_and_get_of_unknown_ids_are_404(api):
    missing = "11111111-2222-3333-4444-555555555555"
    assert_error(api.post("crmobject/invoice/sales/get", {"id": missing}), 404, "not_found")
    assert_error(api.post("crmobject/invoice/sales/update", {"crmId": missing, "finalValue": 1}), 404)
    assert_error(api.post("crmobject/invoice/sales/delete", {"id": missing}), 404)


def test_delete_answers_empty_200_and_frees_the_number(api, identity, product_code):
    body = sales_invoice(identity, product_code)
    crm_id = create(api, body)

    response = api.post("crmobject/invoice/sales/delete", {"Id": crm_id, "Option": 1})

    assert response.status_code == 200 and response.content == b""
    assert_error(api.post("crmobject/invoice/sales/get", {"id": crm_id}), 404)
    assert find_number(api, body["number"])["total"] == 0
    create(api, body)


def test_find_by_number_with_type_key_and_paging(api, identity, product_code):
    number = unique_code("INV")
    first = create(api, sales_invoice(identity, product_code, number=number))
    create(api, sales_invoice(identity, product_code, number=number, crmObjectTypeCode="Invoice2"))

    both = find_number(api, number.lower())  # Equals ignores case
    typed = find_number(api, number, typeKey="invoice1", pageNumber=1, pageSize=10)

    assert both["total"] == 2 and set(both["data"][0]) == GET_RESULT_KEYS | {"includedFields"}
    assert typed["total"] == 1 and typed["data"][0]["crmId"] == first
    assert find_number(api, "no-such-number") == {"total": 0, "data": []}
    assert api.ok("crmobject/invoice/sales/find", {"queries": [{"field": "RefId", "operator": 12,
                                                                "value": "tadbir"}]})["total"] >= 2


@pytest.mark.parametrize("field, value", [("finalValue", "109000"), ("vatPercent", 9.5), ("invoiceDate", "1403/01/01"),
                                          ("details", {"productCode": "x"}), ("number", 7), ("finalValue", None),
                                          ("relatedQuoteId", "not-a-guid")])
def test_wrong_json_types_are_400_naming_the_field(api, identity, product_code, field, value):
    body = sales_invoice(identity, product_code, **{field: value})
    assert_error(api.post("crmobject/invoice/sales/create", body), 400, "invalid_type", mentions=field)


def test_wrong_type_in_a_line_names_the_path(api, identity, product_code):
    body = sales_invoice(identity, product_code)
    body["details"][0]["count"] = "1"
    error = assert_error(api.post("crmobject/invoice/sales/create", body), 400, "invalid_type")
    assert "details[0].count" in error["error_description"]


@pytest.mark.parametrize("change, error, mentions", [
    ({"identityId": "11111111-2222-3333-4444-555555555555"}, "identity_not_found", "11111111-2222"),
    ({"identityId": "not-a-guid"}, "identity_not_found", "not-a-guid"),
    ({"identityId": None}, "required", "IdentityId"),
    ({"crmObjectTypeCode": ""}, "required", "CrmObjectTypeCode"),
    ({"details": [{"productCode": "NO-SUCH-CODE"}]}, "product_not_found", "NO-SUCH-CODE"),
    ({"details": [{"productId": "11111111-2222-3333-4444-555555555555"}]}, "product_not_found", "11111111"),
    ({"details": [{"count": 1}]}, "required", "ProductCode"),
    ({"relatedQuoteId": "11111111-2222-3333-4444-555555555555"}, "quote_not_found", "11111111"),
])
def test_references_are_checked(pg, api, identity, product_code, change, error, mentions):
    before = pg.stats()["writes"]
    body = sales_invoice(identity, product_code, **change)
    assert_error(api.post("crmobject/invoice/sales/create", body), 400, error, mentions=mentions)
    assert pg.stats()["writes"] == before


def test_requires_a_token(api, identity, product_code):
    assert_error(api.post("crmobject/invoice/sales/create", sales_invoice(identity, product_code), token=None), 401)


# ---- quotes -----------------------------------------------------------------------------------

def test_quote_saved_through_soap_reads_in_the_observed_shape(pg, api, soap, identity, product_code):
    number = unique_code("Q")
    crm_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, number, [line(product_code)],
                                                          invoice_type="Quote", type_code="PI_5"))["CrmId"]

    quote = api.ok("crmobject/quote/sales/get", {"id": crm_id})

    assert set(quote) == QUOTE_KEYS
    assert quote["quoteType"] == "Quote" and quote["crmObjectTypeIndex"] == 8 and quote["crmId"] == crm_id
    assert quote["quoteDate"] == "2025-03-21T10:30:00" and quote["number"] == number
    assert quote["identityId"] == identity and quote["identityIdPreview"] == "علی رضایی"
    assert quote["crmObjectTypeCode"] == "PI_5" and quote["billableObjectStateIndex"] == 1
    assert quote["finalValue"] == 109000 and quote["vat"] == 9000 and quote["vatPercent"] == 9
    assert quote["creatorIdPreview"] == pg.username and quote["processLifePaths"] == []
    [detail] = quote["details"]
    assert set(detail) == LINE_KEYS - {"inventoryName", "inventoryCode"}
    assert detail["productCode"] == product_code and detail["totalVat"] == 9000


def test_quote_and_invoice_ids_do_not_cross(api, soap, identity, product_code):
    quote_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, unique_code("Q"), [line(product_code)],
                                                            invoice_type="Quote"))["CrmId"]
    invoice_id = create(api, sales_invoice(identity, product_code))

    assert_error(api.post("crmobject/invoice/sales/get", {"id": quote_id}), 404)
    assert_error(api.post("crmobject/quote/sales/get", {"id": invoice_id}), 404)


def test_sales_invoice_may_name_its_quote(api, soap, identity, product_code):
    quote_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, unique_code("Q"), [line(product_code)],
                                                            invoice_type="Quote"))["CrmId"]
    crm_id = create(api, sales_invoice(identity, product_code, relatedQuoteId=quote_id))
    assert get(api, crm_id)["relatedQuoteId"] == quote_id
