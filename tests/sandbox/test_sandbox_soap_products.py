"""IProduct over SOAP (§4.2, §4.3): SaveProduct, FindProductBy{Code,Name,Id}, DeleteProductBy{Code,Id}."""

import re

from soap_helpers import ZERO_GUID, product, result, unique_code

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The §4.2 example, word for word but for the credentials and a unique code.
EXAMPLE = """<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Body>
    <SaveProduct xmlns="http://tempuri.org/">
      <userName>hamgam</userName>
      <password>hamgam-demo</password>
      <product xmlns:a="http://schemas.datacontract.org/2004/07/Septa.PayamGostar.ServiceLayer.Contract.PGContracts.DataContracts"
               xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <a:BuyAble>true</a:BuyAble>
        <a:Code>{code}</a:Code>
        <a:GroupId>3f2504e0-4f89-11d3-9a0c-0305e82c3301</a:GroupId>
        <a:IsService>false</a:IsService>
        <a:Name>Sample product</a:Name>
        <a:Sellable>true</a:Sellable>
        <a:UnitPrice>1500000</a:UnitPrice>
      </product>
    </SaveProduct>
  </s:Body>
</s:Envelope>"""


def find_by_code(soap, code, group=""):
    return soap.call("IProduct", "FindProductByCode", f"<code>{code}</code><groupName>{group}</groupName>")


def test_the_reference_example_creates_a_product(soap):
    code = unique_code()
    response = soap.post("IProduct", "SaveProduct", EXAMPLE.format(code=code))

    assert response.status_code == 200, response.text
    saved = result(response, "SaveProduct")
    assert saved["Message"] is None and saved["Success"] == "true" and GUID.match(saved["CrmId"])
    [found] = find_by_code(soap, code)["ProductInfoList"]
    assert found["Id"] == saved["CrmId"] and found["Code"] == code and found["Name"] == "Sample product"
    assert found["UnitPrice"] == "1500000" and found["BuyAble"] == "true" and found["IsService"] == "false"
    assert found["GroupId"] == "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert found["Tollable"] == "false"  # omitted non-nillable member: its .NET default
    assert found["Brand"] is None and found["PriceListInfo"] is None
    assert list(found) == ["Brand", "BuyAble", "Code", "CommisionType", "Commission", "Description", "GroupId",
                           "GroupName", "Id", "Inventory", "IsActiveOrderPoint", "IsCommission", "IsService",
                           "MadeIn", "MinimumAmount", "Name", "PriceListInfo", "ProductUnitType", "RefId",
                           "Sellable", "Taxable", "TechInfo", "Tollable", "UnitBuyPrice", "UnitPrice"]


def test_save_with_id_updates_that_product(pg, soap):
    code = unique_code()
    crm_id = soap.call("IProduct", "SaveProduct", product(code, name="قدیم", unit="عدد"))["CrmId"]

    again = soap.call("IProduct", "SaveProduct", product(code, name="جدید", price="2000000", product_id=crm_id))

    assert again == {"Message": None, "Success": "true", "CrmId": crm_id}
    [found] = find_by_code(soap, code)["ProductInfoList"]
    assert found["Name"] == "جدید" and found["UnitPrice"] == "2000000"
    assert found["ProductUnitType"] is None  # a SOAP save replaces the whole object
    assert [r["name"] for r in pg.records("product") if r["code"] == code] == ["جدید"]


def test_save_with_an_unknown_id_is_refused(soap):
    missing = "11111111-2222-3333-4444-555555555555"
    saved = soap.call("IProduct", "SaveProduct", product(unique_code(), product_id=missing))
    assert saved["Success"] == "false" and saved["CrmId"] == ZERO_GUID
    assert missing in saved["Message"] and "not found" in saved["Message"]


def test_zero_guid_id_creates(soap):
    saved = soap.call("IProduct", "SaveProduct", product(unique_code(), product_id=ZERO_GUID))
    assert saved["Success"] == "true" and saved["CrmId"] != ZERO_GUID


def test_duplicate_code_is_refused_ignoring_case(soap, product_code):
    again = soap.call("IProduct", "SaveProduct", product(product_code.lower()))

    assert again["Success"] == "false" and again["CrmId"] == ZERO_GUID
    assert "duplicate code" in again["Message"] and product_code.lower() in again["Message"]
    assert len(find_by_code(soap, product_code)["ProductInfoList"]) == 1


def test_unit_must_be_one_the_crm_knows(pg, soap):
    refused = soap.call("IProduct", "SaveProduct", product(unique_code(), unit="کارتن"))
    assert refused["Success"] == "false" and "کارتن" in refused["Message"]
    assert soap.call("IProduct", "SaveProduct", product(unique_code(), unit="کیلوگرم"))["Success"] == "true"

    pg.set_faults(product_units=["کارتن"])  # the CRM's unit list is a sandbox setting

    assert soap.call("IProduct", "SaveProduct", product(unique_code(), unit="کارتن"))["Success"] == "true"


def test_code_and_name_are_required(soap):
    no_code = product("x").replace("<a:Code>x</a:Code>", "")
    no_name = product(unique_code(), name="")
    for body in (no_code, no_name):
        saved = soap.call("IProduct", "SaveProduct", body)
        assert saved["Success"] == "false" and "required" in saved["Message"]


def test_nil_product_is_refused(soap):
    saved = soap.call("IProduct", "SaveProduct", '<product i:nil="true"/>')
    assert saved["Success"] == "false" and "product" in saved["Message"]


def test_find_by_code_not_found(soap):
    assert find_by_code(soap, "no-such-code") == {"Message": "not found", "Success": "false",
                                                   "ProductInfoList": None}


def test_group_name_narrows_the_find_when_given(soap, product_code):
    assert find_by_code(soap, product_code)["Success"] == "true"
    assert find_by_code(soap, product_code, "other group")["Success"] == "false"


def test_find_by_name_and_by_id(soap):
    name = f"کالا {unique_code()}"
    first = soap.call("IProduct", "SaveProduct", product(unique_code(), name=name))["CrmId"]
    second = soap.call("IProduct", "SaveProduct", product(unique_code(), name=name))["CrmId"]

    by_name = soap.call("IProduct", "FindProductByName", f"<name>{name}</name><groupName i:nil='true'/>")
    by_id = soap.call("IProduct", "FindProductById", f"<id>{second}</id>")

    assert [p["Id"] for p in by_name["ProductInfoList"]] == [first, second]
    assert [p["Id"] for p in by_id["ProductInfoList"]] == [second]


def test_delete_by_code_answers_the_product_and_frees_the_code(soap, product_code):
    deleted = soap.call("IProduct", "DeleteProductByCode", f"<code>{product_code}</code><groupName/>")

    assert deleted["Success"] == "true" and deleted["ProductInfoList"][0]["Code"] == product_code
    assert find_by_code(soap, product_code)["Success"] == "false"
    again = soap.call("IProduct", "DeleteProductByCode", f"<code>{product_code}</code><groupName/>")
    assert again["Success"] == "false" and "not found" in again["Message"]
    assert soap.call("IProduct", "SaveProduct", product(product_code))["Success"] == "true"


def test_delete_by_id(soap):
    crm_id = soap.call("IProduct", "SaveProduct", product(unique_code()))["CrmId"]

    deleted = soap.call("IProduct", "DeleteProductById", f"<productId>{crm_id}</productId>")

    assert deleted["Success"] == "true" and deleted["ProductInfoList"][0]["Id"] == crm_id
    assert soap.call("IProduct", "FindProductById", f"<id>{crm_id}</id>")["Success"] == "false"
