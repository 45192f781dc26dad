"""SOAP strictness: transport, SOAPAction, envelope, XSD order, namespaces, types, nils, credentials.

Every refusal is HTTP 500 with a SOAP 1.1 Fault (400 for a body that is not XML, 415 for a
wrong content type), writes nothing, and names the element and the problem.
"""

import pytest
import requests
from soap_helpers import (
    DC,
    DESERIALIZATION_FAILED,
    SOAP_ENV,
    envelope,
    invoice,
    line,
    product,
    read_fault,
    unique_code,
)

SAVE_PRODUCT = ("IProduct", "SaveProduct")


def save_product_body(**fields) -> str:
    return envelope("SaveProduct", product(unique_code(), **fields))


def assert_nothing_written(pg, before: dict) -> None:
    assert pg.stats()["writes"] == before["writes"]


# ---- transport and dispatch ---------------------------------------------------------------------

def test_unknown_soap_action_is_action_not_supported(pg, soap):
    code, text = soap.fault(*SAVE_PRODUCT, save_product_body(), action="http://tempuri.org/IProduct/Frobnicate")
    assert code == "a:ActionNotSupported" and "http://tempuri.org/IProduct/Frobnicate" in text
    assert pg.stats()["calls"]["IProduct/(unknown action)"] >= 1


def test_missing_soap_action_is_action_not_supported(pg, soap):
    response = requests.post(f"{pg.base_url}/Services/API/IProduct.svc", data=save_product_body().encode(),
                             headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)
    assert read_fault(response)[0] == "a:ActionNotSupported"


def test_action_of_another_service_is_not_supported_here(soap):
    code, _ = soap.fault(*SAVE_PRODUCT, save_product_body(), action="http://tempuri.org/IInvoice/SaveInvoice")
    assert code == "a:ActionNotSupported"


def test_soap_action_must_match_the_body_operation(soap):
    body = envelope("FindProductByCode", "<code>x</code><groupName/>")
    code, text = soap.fault(*SAVE_PRODUCT, body)  # SOAPAction says SaveProduct
    assert code == DESERIALIZATION_FAILED
    assert "Expected to find node type 'Element' with name 'SaveProduct'" in text and "FindProductByCode" in text


def test_operation_element_in_the_wrong_namespace(soap):
    body = save_product_body().replace('<SaveProduct xmlns="http://tempuri.org/"', '<SaveProduct xmlns="urn:other"')
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "urn:other" in text


def test_lower_case_path_and_unquoted_action_work(pg):
    response = requests.post(f"{pg.base_url}/services/api/iproduct.svc", data=save_product_body().encode(),
                             headers={"Content-Type": "text/xml", "SOAPAction": "http://tempuri.org/IProduct/SaveProduct"},
                             timeout=10)
    assert response.status_code == 200, response.text


def test_soap_12_content_type_is_415(pg, soap):
    before = pg.stats()
    response = soap.post(*SAVE_PRODUCT, save_product_body(), content_type="application/soap+xml; charset=utf-8")
    assert response.status_code == 415 and "text/xml" in response.text
    assert_nothing_written(pg, before)


def test_soap_12_envelope_is_version_mismatch(soap):
    body = save_product_body().replace(SOAP_ENV, "http://www.w3.org/2003/05/soap-envelope")
    assert soap.fault(*SAVE_PRODUCT, body)[0] == "s:VersionMismatch"


@pytest.mark.parametrize("body", [b"not xml at all", b"<s:Envelope", "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"])
def test_a_body_that_is_not_acceptable_xml_is_400(soap, body):
    body = body if isinstance(body, str) else body.decode()
    response = soap.post(*SAVE_PRODUCT, body)
    assert read_fault(response, status=400)[0] == "s:Client"


def test_mandatory_header_is_not_understood(soap):
    body = save_product_body().replace(
        "<s:Body>", '<s:Header><Security xmlns="urn:x" s:mustUnderstand="1"/></s:Header><s:Body>')
    assert soap.fault(*SAVE_PRODUCT, body)[0] == "s:MustUnderstand"


def test_wsdl_is_not_served(pg):
    assert requests.get(f"{pg.base_url}/Services/API/IProduct.svc?wsdl", timeout=5).status_code == 405


def test_unknown_service_is_404(pg, soap):
    response = requests.post(f"{pg.base_url}/Services/API/IPerson.svc", data=b"<x/>",
                             headers={"Content-Type": "text/xml"}, timeout=5)
    assert response.status_code == 404


# ---- the XSD, element by element ----------------------------------------------------------------

def test_elements_out_of_xsd_order_fault_naming_the_element(pg, soap):
    before = pg.stats()
    body = save_product_body().replace("<a:BuyAble>true</a:BuyAble>", "")
    body = body.replace("</a:Sellable>", "</a:Sellable><a:BuyAble>true</a:BuyAble>")  # BuyAble after Sellable

    code, text = soap.fault(*SAVE_PRODUCT, body)

    assert code == DESERIALIZATION_FAILED
    assert "product/BuyAble" in text and "out of order" in text and "http://tempuri.org/:product" in text
    assert_nothing_written(pg, before)


def test_parameters_out_of_order_fault(soap):
    body = envelope("FindProductByCode", "<groupName/><code>x</code>")
    code, text = soap.fault("IProduct", "FindProductByCode", body)
    assert code == DESERIALIZATION_FAILED and "'code' is out of order" in text


def test_a_repeated_element_faults(soap):
    body = save_product_body().replace("<a:Sellable>true</a:Sellable>", "<a:Sellable>true</a:Sellable>" * 2)
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "Sellable" in text and "more than once" in text


def test_unknown_element_faults(soap):
    body = save_product_body().replace("<a:IsService>", "<a:Colour>red</a:Colour><a:IsService>")
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "product/Colour" in text and "not expected" in text


def test_mis_cased_user_name_is_an_unknown_element(soap):
    """§2.3: IProduct wants `userName`; WCF would silently take `username` as a null user."""
    body = save_product_body().replace("<userName>hamgam</userName>", "<username>hamgam</username>")
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "'username'" in text


def test_member_in_the_wrong_namespace_faults(soap):
    body = save_product_body().replace("<a:Name>", "<Name>").replace("</a:Name>", "</Name>")  # tempuri.org
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "product/Name" in text and "namespace" in text and DC in text


def test_parameter_in_the_data_contract_namespace_faults(soap):
    body = envelope("FindProductByCode", "<a:code>x</a:code><groupName/>")
    code, text = soap.fault("IProduct", "FindProductByCode", body)
    assert code == DESERIALIZATION_FAILED and "namespace" in text


BAD_PRODUCT_VALUES = [
    ("<a:UnitPrice>1500000</a:UnitPrice>", "<a:UnitPrice>1,500,000</a:UnitPrice>", "UnitPrice", "Decimal"),
    ("<a:UnitPrice>1500000</a:UnitPrice>", "<a:UnitPrice>1.5e6</a:UnitPrice>", "UnitPrice", "Decimal"),
    ("<a:UnitPrice>1500000</a:UnitPrice>", "<a:UnitPrice/>", "UnitPrice", "Decimal"),
    ("<a:BuyAble>true</a:BuyAble>", "<a:BuyAble>yes</a:BuyAble>", "BuyAble", "Boolean"),
    ("<a:BuyAble>true</a:BuyAble>", "<a:BuyAble>True</a:BuyAble>", "BuyAble", "Boolean"),
    ("<a:GroupId>3f2504e0-4f89-11d3-9a0c-0305e82c3301</a:GroupId>", "<a:GroupId>42</a:GroupId>", "GroupId", "Guid"),
    ("<a:UnitPrice>1500000</a:UnitPrice>", '<a:UnitPrice i:nil="yes"/>', "UnitPrice", "xsi:nil"),
    ("<a:UnitPrice>1500000</a:UnitPrice>", "<a:UnitPrice><a:Amount>1</a:Amount></a:UnitPrice>", "UnitPrice",
     "cannot contain elements"),
]


@pytest.mark.parametrize("good, bad, element, problem", BAD_PRODUCT_VALUES,
                         ids=[f"{e}-{i}" for i, (_, _, e, _) in enumerate(BAD_PRODUCT_VALUES)])
def test_wrong_type_faults_naming_the_element(pg, soap, good, bad, element, problem):
    before = pg.stats()
    body = save_product_body()
    assert good in body
    code, text = soap.fault(*SAVE_PRODUCT, body.replace(good, bad))
    assert code == DESERIALIZATION_FAILED and f"product/{element}" in text and problem in text
    assert_nothing_written(pg, before)


def test_nil_on_a_non_nillable_member_faults(soap):
    body = save_product_body().replace("</a:Sellable>", '</a:Sellable><a:Tollable i:nil="true"/>')
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "product/Tollable" in text and "cannot be null" in text


def test_nil_on_a_nillable_member_is_fine(soap):
    body = save_product_body().replace("<a:BuyAble>true</a:BuyAble>", '<a:BuyAble i:nil="true"/>')
    assert soap.post(*SAVE_PRODUCT, body).status_code == 200


BAD_INVOICE_VALUES = [
    ("<a:VatPercent>9</a:VatPercent>", "<a:VatPercent>9.5</a:VatPercent>", "invoiceInfo/VatPercent", "Int32"),
    ("<a:InvoiceDate>2025-03-21T10:30:00</a:InvoiceDate>", "<a:InvoiceDate>1403/01/01</a:InvoiceDate>",
     "invoiceInfo/InvoiceDate", "DateTime"),
    ("<a:InvoiceDate>2025-03-21T10:30:00</a:InvoiceDate>", "<a:InvoiceDate>2025-03-21</a:InvoiceDate>",
     "invoiceInfo/InvoiceDate", "DateTime"),
    ("<a:Count>1</a:Count>", "<a:Count>one</a:Count>", "invoiceInfo/Details/InvoiceDetailInfo/Count", "Decimal"),
    ("<a:Tags><b:string>tadbir</b:string></a:Tags>", "<a:Tags><a:string>tadbir</a:string></a:Tags>",
     "invoiceInfo/Tags/string", "namespace"),
]


@pytest.mark.parametrize("good, bad, path, problem", BAD_INVOICE_VALUES,
                         ids=["int", "persian-date", "date-only", "line-decimal", "array-item-namespace"])
def test_wrong_types_inside_an_invoice_fault_with_the_path(soap, good, bad, path, problem):
    body = envelope("SaveInvoice", invoice("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "1", [line("P-1")]))
    assert good in body
    code, text = soap.fault("IInvoice", "SaveInvoice", body.replace(good, bad))
    assert code == DESERIALIZATION_FAILED and path in text and problem in text


def test_non_nillable_decimal_member_cannot_be_nil(soap):
    body = envelope("SaveInvoice", invoice("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "1", [line("P-1")]))
    body = body.replace("<a:TotalValue>", '<a:Toll i:nil="true"/><a:TotalValue>')
    code, text = soap.fault("IInvoice", "SaveInvoice", body)
    assert code == DESERIALIZATION_FAILED and "invoiceInfo/Toll" in text and "cannot be null" in text


@pytest.mark.parametrize("params, problem", [
    ("<number>1</number><invoiceType>Bill</invoiceType><typeCode/>", "not a valid Gp_InvoiceType"),
    ("<number>1</number><invoiceType>invoice</invoiceType><typeCode/>", "not a valid Gp_InvoiceType"),
    ("<number>1</number><invoiceType>Invoice</invoiceType><typeCode/><deleteOption>Everything</deleteOption>",
     "not a valid CrmObjectDeleteOption"),
    ("<number>1</number><typeCode/><deleteOption>Nothing</deleteOption>", "'invoiceType'"),
    ("<number>1</number><invoiceType>Invoice</invoiceType><typeCode/>", "'deleteOption'"),
    ('<number>1</number><invoiceType i:nil="true"/><typeCode/><deleteOption>Nothing</deleteOption>', "null"),
])
def test_enum_and_missing_non_nillable_parameters_fault(soap, params, problem):
    code, text = soap.fault("IInvoice", "DeleteInvoiceByNumber", envelope("DeleteInvoiceByNumber", params))
    assert code == DESERIALIZATION_FAILED and problem in text


def test_flags_enum_takes_space_separated_names(soap):
    params = "<number>none-such</number><invoiceType>Invoice</invoiceType><typeCode/>" \
             "<deleteOption>DeleteChildren DeleteWithHistory</deleteOption>"
    result = soap.call("IInvoice", "DeleteInvoiceByNumber", params)
    assert result["Success"] == "false"  # parsed fine; there is just no such invoice


def test_missing_non_nillable_guid_parameter_faults(soap):
    code, text = soap.fault("IInvoice", "FindInvoiceById", envelope("FindInvoiceById", ""))
    assert code == DESERIALIZATION_FAILED and "invoiceId" in text and "missing" in text


def test_wrong_xsi_type_faults(soap):
    body = save_product_body().replace("<product>", '<product i:type="a:InvoiceInfo">')
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == DESERIALIZATION_FAILED and "xsi:type" in text


def test_text_where_elements_belong_faults(soap):
    body = save_product_body().replace("<a:Name>", "stray<a:Name>")
    assert soap.fault(*SAVE_PRODUCT, body)[0] == DESERIALIZATION_FAILED


# ---- credentials ------------------------------------------------------------------------------

@pytest.mark.parametrize("user, password", [("hamgam", "wrong"), ("someone", "hamgam-demo"), ("", "")])
def test_bad_credentials_are_a_client_fault(pg, soap, user, password):
    before = pg.stats()
    body = envelope("SaveProduct", product(unique_code()), user=user, password=password)
    code, text = soap.fault(*SAVE_PRODUCT, body)
    assert code == "s:Client" and text == "The user name or password is incorrect."
    assert_nothing_written(pg, before)


def test_missing_credentials_are_a_client_fault(soap):
    body = envelope("SaveProduct", product(unique_code())).replace("<userName>hamgam</userName>", "")
    assert soap.fault(*SAVE_PRODUCT, body)[0] == "s:Client"


def test_the_body_is_checked_before_the_credentials(soap):
    body = envelope("SaveProduct", product(unique_code(), price="abc"), password="wrong")
    assert soap.fault(*SAVE_PRODUCT, body)[0] == DESERIALIZATION_FAILED


def test_an_operation_the_sandbox_does_not_simulate_is_not_supported(soap):
    body = envelope("SearchInvoice", "<typeKey/><query>Number == \"1\"</query>")
    code, text = soap.fault("IInvoice", "SearchInvoice", body)
    assert code == "a:ActionNotSupported" and "SaveInvoice" in text  # the message lists what is served
