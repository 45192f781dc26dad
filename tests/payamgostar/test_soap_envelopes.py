"""The SOAP codec against the vendor's own XSDs: what we send validates, in order; what we read back
is typed; faults map to the error that tells the caller what to do."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import xmlschema

from hamgam.payamgostar import soap
from hamgam.payamgostar.contracts import CONTRACTS, ENUMS, OPERATIONS
from hamgam.payamgostar.errors import PayamgostarError, RecordRejected, RetriableError
from vendor_wsdl import require_wsdl, wsdl_dir

WSDL_DIR = wsdl_dir()
DC = soap.DATA_CONTRACTS
XSI = soap.XSI
CUSTOMER = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
PRODUCT_ID = "9a3c1b52-2d4e-4f6a-8b7c-0d1e2f3a4b5c"
QUOTE_TYPE_ID = "11111111-2222-3333-4444-555555555555"
INVOICE_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def schemas() -> dict[str, xmlschema.XMLSchema]:
    require_wsdl()
    # each I<Svc>.xsd imports its _1 (contracts), _2 (Serialization), _3 (Arrays), _4 (enums) by file name
    return {service: xmlschema.XMLSchema(str(WSDL_DIR / f"{service}.xsd")) for service in soap.SERVICES}


def operation_element(body: bytes) -> ET.Element:
    """The <Op> wrapper: the only child of s:Body."""
    envelope = ET.fromstring(body)
    assert envelope.tag == f"{{{soap.SOAP_ENV}}}Envelope"
    (soap_body,) = list(envelope)
    (wrapper,) = list(soap_body)
    return wrapper


# -- realistic documents ------------------------------------------------------------------------
PRODUCT = {
    "Brand": "پارس", "BuyAble": True, "Code": "P-1001", "CommisionType": "درصد", "Commission": Decimal("2.5"),
    "Description": "لوله گالوانیزه", "GroupId": CUSTOMER, "GroupName": "لوله", "Inventory": True,
    "IsActiveOrderPoint": False, "IsCommission": False, "IsService": False, "MadeIn": "ایران",
    "MinimumAmount": Decimal("10"), "Name": "لوله ۲ اینچ",
    "PriceListInfo": [{"InvoiceType": "Invoice", "Name": "عمومی",
                       "PriceListProducts": [{"Amount": 1500000, "PricingType": "Fixed", "ProductCode": "P-1001"}]}],
    "ProductUnitType": "عدد", "RefId": "tadbir:100:P-1001", "Sellable": True, "Taxable": True, "TechInfo": "",
    "Tollable": False, "UnitBuyPrice": Decimal("1200000"), "UnitPrice": Decimal("1500000"),
}


def line(n: int, code: str, count: str, price: int) -> dict:
    total = Decimal(count) * price
    return {"BaseUnitPrice": price, "Count": Decimal(count), "DetailDescription": f"ردیف {n}",
            "FinalUnitPrice": price, "Id": n, "InventoryCode": "W1", "InventoryName": "انبار مرکزی",
            "IsService": False, "ProductCode": code, "ProductId": PRODUCT_ID, "ProductName": code,
            "ProductUnitTypeName": "عدد", "ReturnedCount": 0, "TotalDiscount": 0, "TotalToll": 0,
            "TotalUnitPrice": total, "TotalVat": total * Decimal("0.1")}


QUOTE = {
    "CrmObjectTypeCode": "Productinvoice", "CrmObjectTypeId": QUOTE_TYPE_ID, "CrmObjectTypeIndex": 8,
    "ExtendedProperties": [{"UserKey": "FiscalYear", "Value": "1403"}, {"UserKey": "Seller", "Value": "رضایی"}],
    "RefId": "tadbir:100:quote:123", "Tags": ["tadbir", "1403"],
    "Description": "پیش فاکتور", "IdentityId": CUSTOMER, "Subject": "پیش فاکتور 100-1403/123",
    "FinalValue": Decimal("3795000"), "Number": "100-1403/123",
    "Details": [line(1, "P-1001", "2", 1500000), line(2, "P-1002", "0.5", 900000)],
    "Discount": 0, "ExpireDate": datetime(2024, 7, 1, 0, 0), "InvoiceDate": datetime(2024, 6, 1, 10, 30),
    "InvoiceType": "Quote", "Toll": 0, "TollPercent": 0, "TotalDiscountPercent": 0,
    "TotalValue": Decimal("3450000"), "Vat": Decimal("345000"), "VatPercent": 10,
}

RETURN = {
    "CrmObjectTypeCode": "ReturnSaleInvoice", "CrmObjectTypeIndex": 17, "IdentityId": CUSTOMER,
    "FinalValue": Decimal("1650000"), "Number": "100-1403/7", "AdditionalCosts": 0,
    "Details": [{"BaseUnitPrice": 1500000, "Count": 1, "FinalUnitPrice": 1650000, "Id": 1,
                 "ProductCode": "P-1001", "ProductName": "لوله ۲ اینچ",
                 "RelatedInvoices": [{"RelatedInvoiceInfo": {"RelatedInvoiceId": INVOICE_ID,
                                                             "RelatedInvoiceNumber": "100-1403/55",
                                                             "RelatedInvoiceTypeCode": "SaleInvoice"},
                                      "ReturnedCount": 1}],
                 "TotalDiscount": 0, "TotalToll": 0, "TotalUnitPrice": 1500000, "TotalVat": 150000}],
    "Discount": 0, "InvoiceDate": date(2024, 6, 3), "Toll": 0, "TollPercent": 0,
    "TotalValue": 1500000, "Vat": 150000, "VatPercent": 10,
}

CHEQUE_RECEIPT = {
    "CrmObjectTypeCode": "Receipt", "CrmObjectTypeIndex": 9, "IdentityId": CUSTOMER,
    "ExtendedProperties": [{"UserKey": "FiscalYear", "Value": "1403"}],
    "Description": "دریافت چک", "FinalValue": Decimal("5000000"), "Number": "100-1403/000012-1",
    "ChequeBank": "ملت", "ChequeNo": "123456", "IsPayed": False, "PayDate": datetime(2024, 6, 2, 9, 0),
    "PaymentType": "چکی", "RelatedInvoiceNumber": {"RelatedInvoiceNumber": "100-1403/55"},
    "SettledDate": datetime(2024, 9, 1),
}

CALLS: dict[str, dict] = {
    "SaveProduct": {"product": PRODUCT},
    "FindProductByCode": {"code": "P-1001", "groupName": ""},
    "FindProductById": {"id": PRODUCT_ID},
    "DeleteProductByCode": {"code": "P-1001", "groupName": ""},
    "SaveInvoice": {"invoiceInfo": QUOTE},
    "SaveReturnInvoice": {"returnInvoiceInfo": RETURN},
    "FindInvoiceByNumber": {"number": "100-1403/123", "invoiceType": "Quote", "typeCode": "Productinvoice"},
    "FindReturnInvoiceByNumber": {"number": "100-1403/7", "typeCode": "ReturnSaleInvoice"},
    "DeleteInvoiceByNumber": {"number": "100-1403/123", "invoiceType": "Quote", "typeCode": "Productinvoice",
                              "deleteOption": "DeleteWithHistory"},
    "DeleteReturnInvoiceByNumber": {"number": "100-1403/7", "typeCode": "ReturnSaleInvoice",
                                    "deleteOption": "DeleteWithHistory"},
    "FindQuoteById": {"quoteId": INVOICE_ID},
    "FindInvoiceById": {"invoiceId": INVOICE_ID},
    "FindReturnInvoiceById": {"retInvoiceId": INVOICE_ID},
    "SearchQuote": {"typeKey": "Productinvoice", "query": 'ModifyDate >= "2026-11-28T17:00:00"'},
    "FindPurchaseInvoiceById": {"purchInvoiceId": INVOICE_ID},
    "FindReturnPurchaseInvoiceById": {"retPurchInvoiceId": INVOICE_ID},
    "SearchInvoice": {"typeKey": "sales_invoice", "query": 'Number == "100-1403/7"'},
    "SearchPurchaseInvoice": {"typeKey": "purchase_invoice", "query": 'Number == "100-1403/7"'},
    "SearchReturnSaleInvoice": {"typeKey": "", "query": 'Number == "100-1403/7"'},
    "SearchReturnPurchaseInvoice": {"typeKey": "purchase_return", "query": 'Number == "100-1403/7"'},
    "SavePayment": {"paymentInfo": CHEQUE_RECEIPT},
    "FindReceiptByNumber": {"number": "100-1403/000012-1", "crmObjectTypeCode": "Receipt"},
    "FindPaymentByNumber": {"number": "100-1403/000013-1", "crmObjectTypeCode": "Payment"},
    "FindReceiptById": {"receiptId": INVOICE_ID},
    "FindPaymentById": {"paymentId": INVOICE_ID},
    "DeleteReceiptByNumber": {"number": "100-1403/000012-1", "deleteOption": "DeleteWithHistory"},
    "DeletePaymentByNumber": {"number": "100-1403/000013-1", "deleteOption": "DeleteWithHistory"},
    "DeleteInvoiceById": {"invoiceId": INVOICE_ID, "deleteOption": "DeleteWithHistory"},
    "DeletePaymentById": {"crmId": INVOICE_ID, "deleteOption": "DeleteWithHistory"},
    "GetCrmObjectTypeList": {"crmObjectTypeIndex": "Quote"},
    "GetCrmObjectTypeInfo": {"typeKeyOrId": "Productinvoice"},
}


def test_every_operation_has_a_realistic_case():
    assert set(CALLS) == set(OPERATIONS)


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_request_validates_against_the_vendor_xsd(schemas, operation):
    service = OPERATIONS[operation].service
    headers, body = soap.build_request(service, operation, "etl-user", "secret", **CALLS[operation])
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["SOAPAction"] == f'"http://tempuri.org/{service}/{operation}"'
    wrapper = operation_element(body)
    assert wrapper.tag == f"{{http://tempuri.org/}}{operation}"
    assert [child.tag.rpartition("}")[2] for child in wrapper][:2] == [OPERATIONS[operation].user_element, "password"]
    schemas[service].validate(wrapper)


def sample(type_: str, depth: int = 0):
    """A valid value for every member of a contract, so one envelope exercises every position."""
    if type_.endswith("[]"):
        return [sample(type_[:-2], depth)] if depth < 3 else []
    if type_ in CONTRACTS:
        return {m.name: sample(m.type, depth + 1) for m in CONTRACTS[type_].members}
    if type_ in ENUMS:
        return ENUMS[type_][-1]
    return {"string": "x", "decimal": Decimal("1.5"), "int": 7, "bool": True,
            "dateTime": datetime(2024, 6, 1, 12, 0), "guid": CUSTOMER}[type_]


@pytest.mark.parametrize("operation", ["SaveProduct", "SaveInvoice", "SaveReturnInvoice", "SavePayment"])
def test_every_member_of_every_contract_is_in_schema_order(schemas, operation):
    op = OPERATIONS[operation]
    (param,) = op.params
    _, body = soap.build_request(op.service, operation, "u", "p", **{param.name: sample(param.type)})
    schemas[op.service].validate(operation_element(body))


def test_the_validator_really_checks_order(schemas):
    _, body = soap.build_request("IProduct", "SaveProduct", "u", "p", product=PRODUCT)
    wrapper = operation_element(body)
    product = wrapper.find("{http://tempuri.org/}product")
    first, second = product[0], product[1]  # Brand, BuyAble
    product.remove(first)
    product.insert(1, first)
    assert [e.tag.rpartition("}")[2] for e in product][:2] == ["BuyAble", "Brand"]
    assert second is product[0]
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schemas["IProduct"].validate(wrapper)


def xsd_type_name(xsd_type) -> str:
    name = xsd_type.local_name
    if name.startswith("ArrayOf"):
        return f"{name.removeprefix('ArrayOf')}[]"
    return {"boolean": "bool"}.get(name, name)


def test_the_contract_table_matches_the_xsds_member_for_member(schemas):
    checked = set()
    for schema in schemas.values():
        for name, contract in CONTRACTS.items():
            xsd_type = schema.maps.types.get(f"{{{DC}}}{name}")
            if xsd_type is None:
                continue
            expected = [(e.local_name, xsd_type_name(e.type), e.nillable) for e in xsd_type.content.iter_elements()]
            assert [(m.name, m.type, m.nillable) for m in contract.members] == expected, name
            checked.add(name)
    assert checked == set(CONTRACTS)


def test_the_operation_table_matches_the_xsds(schemas):
    for name, op in OPERATIONS.items():
        element = schemas[op.service].elements[name]
        expected = [(e.local_name, xsd_type_name(e.type), e.nillable) for e in element.type.content.iter_elements()]
        ours = [(op.user_element, "string", True), ("password", "string", True)]
        ours += [(m.name, m.type, m.nillable) for m in op.params]
        assert ours == expected, name
        result = schemas[op.service].elements[f"{name}Response"].type.content[0]
        assert result.local_name == f"{name}Result" and result.type.local_name == op.result, name


# -- value formatting ---------------------------------------------------------------------------
def product_xml(**product) -> ET.Element:
    _, body = soap.build_request("IProduct", "SaveProduct", "u", "p", product=product)
    return operation_element(body).find("{http://tempuri.org/}product")


def test_values_are_written_the_way_wcf_reads_them():
    product = product_xml(UnitPrice=Decimal("1.5E+6"), Commission=2.75, MinimumAmount=10, BuyAble=False,
                          GroupId=CUSTOMER.upper(), Name="a\x00b\tc")
    text = {e.tag.rpartition("}")[2]: e.text for e in product}
    assert text == {"BuyAble": "false", "Commission": "2.75", "GroupId": CUSTOMER, "MinimumAmount": "10",
                    "Name": "ab\tc", "UnitPrice": "1500000"}
    assert all(e.tag.startswith(f"{{{DC}}}") for e in product)


def test_dates_are_local_tehran_wall_time_without_offset_and_strings_are_arrays_of_string():
    _, body = soap.build_request("IInvoice", "SaveInvoice", "u", "p", invoiceInfo={
        "InvoiceDate": datetime(2024, 6, 1, 7, 0, 0, 123456, tzinfo=UTC), "ExpireDate": date(2024, 7, 1),
        "Tags": ["a", "b"]})
    info = operation_element(body).find("{http://tempuri.org/}invoiceInfo")
    assert info.find(f"{{{DC}}}InvoiceDate").text == "2024-06-01T10:30:00"
    assert info.find(f"{{{DC}}}ExpireDate").text == "2024-07-01T00:00:00"
    items = info.find(f"{{{DC}}}Tags")
    assert [(e.tag, e.text) for e in items] == [(f"{{{soap.ARRAYS}}}string", "a"), (f"{{{soap.ARRAYS}}}string", "b")]


def test_none_is_left_out_not_sent_as_nil():
    product = product_xml(Code="P-1", Name=None, Tollable=False)
    assert [e.tag.rpartition("}")[2] for e in product] == ["Code", "Tollable"]
    assert not any(e.get(f"{{{XSI}}}nil") for e in product.iter())


@pytest.mark.parametrize(("params", "message"), [
    ({"invoiceInfo": {"Numbr": "1"}}, "InvoiceInfo has no member 'Numbr' (did you mean 'Number'?)"),
    ({"invoiceInfo": {"Details": [{"Cuont": 1}]}}, "InvoiceDetailInfo has no member 'Cuont' (did you mean 'Count'?) "
                                                  "(at invoiceInfo.Details[0])"),
    ({"invoiceInfo": {"Discount": True}}, "invoiceInfo.Discount: True is not a valid decimal"),
    ({"invoiceInfo": {"VatPercent": 9.0}}, "invoiceInfo.VatPercent: 9.0 is not a valid int"),
    ({"invoiceInfo": {"IdentityId": "not-a-guid"}}, "invoiceInfo.IdentityId: 'not-a-guid' is not a valid guid"),
    ({"invoiceInfo": {"Details": {"Count": 1}}}, "invoiceInfo.Details must be a list"),
    ({"invoiceInfo": {"TotalValue": float("nan")}}, "invoiceInfo.TotalValue: nan is not a valid decimal"),
    ({"info": {}}, "IInvoice.SaveInvoice has no parameter 'info'"),
])
def test_typos_and_wrong_types_fail_on_our_side_naming_the_place(params, message):
    with pytest.raises(ValueError) as caught:
        soap.build_request("IInvoice", "SaveInvoice", "u", "p", **params)
    assert message in str(caught.value)


def test_enums_are_checked_and_required_value_parameters_must_be_given():
    with pytest.raises(ValueError, match="one of Invoice, Quote"):
        soap.build_request("IInvoice", "FindInvoiceByNumber", "u", "p", number="1", invoiceType="Quotes")
    with pytest.raises(ValueError, match="needs invoiceType"):
        soap.build_request("IInvoice", "FindInvoiceByNumber", "u", "p", number="1")
    with pytest.raises(ValueError, match="belongs to IInvoice"):
        soap.build_request("IPayment", "SaveInvoice", "u", "p")


# -- reading results ----------------------------------------------------------------------------
def response(operation: str, result: str) -> bytes:
    return (f'<s:Envelope xmlns:s="{soap.SOAP_ENV}"><s:Body><{operation}Response xmlns="http://tempuri.org/">'
            f'<{operation}Result xmlns:a="{DC}" xmlns:i="{XSI}">{result}</{operation}Result>'
            f"</{operation}Response></s:Body></s:Envelope>").encode()


def fault(code: str, message: str, code_ns: str = "") -> bytes:
    return (f'<s:Envelope xmlns:s="{soap.SOAP_ENV}"><s:Body><s:Fault>'
            f'<faultcode{code_ns}>{code}</faultcode><faultstring xml:lang="en-US">{message}</faultstring>'
            f"</s:Fault></s:Body></s:Envelope>").encode()


def validate_response(schemas, operation: str, body: bytes) -> None:
    """Canned answers are held to the XSD too, so they are answers a real server could give."""
    schemas[OPERATIONS[operation].service].validate(operation_element(body))


def test_save_result_success_and_failure(schemas):
    ok = response("SaveProduct", f'<a:Message i:nil="true"/><a:Success>true</a:Success><a:CrmId>{PRODUCT_ID}</a:CrmId>')
    refused = response("SaveProduct", "<a:Message>کد کالا تکراری است</a:Message><a:Success>false</a:Success>"
                                      f"<a:CrmId>{soap.ZERO_GUID}</a:CrmId>")
    for body in (ok, refused):
        validate_response(schemas, "SaveProduct", body)
    assert soap.parse_response("SaveProduct", ok) == {"Message": None, "Success": True, "CrmId": PRODUCT_ID}
    assert soap.parse_response("SaveProduct", refused) == {"Message": "کد کالا تکراری است", "Success": False,
                                                           "CrmId": soap.ZERO_GUID}


def test_product_list_is_read_into_typed_dicts(schemas):
    body = response("FindProductByCode", (
        '<a:Message i:nil="true"/><a:Success>true</a:Success><a:ProductInfoList><a:ProductInfo>'
        "<a:BuyAble>true</a:BuyAble><a:Code>P-1001</a:Code><a:Description i:nil=\"true\"/>"
        f"<a:Id>{PRODUCT_ID}</a:Id><a:Name>لوله</a:Name><a:PriceListInfo><a:PriceListInfo><a:Name>عمومی</a:Name>"
        "<a:PriceListProducts><a:PriceListProductInfo><a:Amount>1500000.0000</a:Amount>"
        "</a:PriceListProductInfo></a:PriceListProducts></a:PriceListInfo></a:PriceListInfo>"
        "<a:Tollable>false</a:Tollable><a:UnitPrice>1500000.0000</a:UnitPrice>"
        "</a:ProductInfo></a:ProductInfoList>"))
    validate_response(schemas, "FindProductByCode", body)
    result = soap.parse_response("FindProductByCode", body)
    assert result["ProductInfoList"] == [{
        "BuyAble": True, "Code": "P-1001", "Description": None, "Id": PRODUCT_ID, "Name": "لوله",
        "PriceListInfo": [{"Name": "عمومی", "PriceListProducts": [{"Amount": Decimal("1500000")}]}],
        "Tollable": False, "UnitPrice": Decimal("1500000")}]


def as_read(type_: str, value):
    """What parse_response gives back for a value we wrote."""
    if type_.endswith("[]"):
        return [as_read(type_[:-2], item) for item in value]
    if type_ in CONTRACTS:
        return {k: as_read(CONTRACTS[type_].member(k).type, v) for k, v in value.items()}
    if type_ == "decimal":
        return Decimal(value)
    if type_ == "dateTime" and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


@pytest.mark.parametrize(("operation", "key", "document"), [
    ("FindInvoiceByNumber", "InvoiceInfo", QUOTE), ("FindReceiptByNumber", "PaymentInfo", CHEQUE_RECEIPT)])
def test_what_we_write_reads_back_the_same(operation, key, document):
    save = {"InvoiceInfo": ("IInvoice", "SaveInvoice", "invoiceInfo"),
            "PaymentInfo": ("IPayment", "SavePayment", "paymentInfo")}[key]
    _, body = soap.build_request(*save[:2], "u", "p", **{save[2]: document})
    written = operation_element(body).find(f"{{http://tempuri.org/}}{save[2]}")
    answer = ET.fromstring(response(operation, f"<a:Success>true</a:Success><a:{key}/>"))
    answer.find(f".//{{{DC}}}{key}").extend(list(written))
    found = soap.parse_response(operation, ET.tostring(answer))[key]
    assert found == as_read(key, document)
    assert isinstance(found["FinalValue"], Decimal) and isinstance(found["CrmObjectTypeIndex"], int)


def test_wcf_dates_with_seven_digits_and_unknown_members_are_read():
    body = response("FindReceiptByNumber", (
        "<a:Success>true</a:Success><a:PaymentInfoList><a:PaymentInfo>"
        "<a:CreatDate>2025-12-21T14:06:17.1730000</a:CreatDate><a:CrmId>" + INVOICE_ID + "</a:CrmId>"
        "<a:SomethingNewer>x</a:SomethingNewer><a:Number>100-1403/000012-1</a:Number>"
        "</a:PaymentInfo></a:PaymentInfoList>"))
    (receipt,) = soap.parse_response("FindReceiptByNumber", body)["PaymentInfoList"]
    assert receipt == {"CreatDate": datetime(2025, 12, 21, 14, 6, 17, 173000), "CrmId": INVOICE_ID,
                       "Number": "100-1403/000012-1"}


@pytest.mark.parametrize(("body", "error", "not_error"), [
    (fault("s:Client", "bad data"), RecordRejected, None),
    (fault("a:DeserializationFailed", "The formatter threw an exception",
           ' xmlns:a="http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"'),
     RecordRejected, None),
    (fault("s:Server", "Timeout expired"), RetriableError, None),
    (fault("a:InternalServiceFault", "The server was unable to process the request",
           ' xmlns:a="http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"'),
     RetriableError, None),
    (fault("a:ActionNotSupported", "The message with Action '' cannot be processed",
           ' xmlns:a="http://schemas.microsoft.com/ws/2005/05/addressing/none"'),
     PayamgostarError, (RecordRejected, RetriableError)),
    (b"<html><body>502 Bad Gateway</body></html", RetriableError, None),
])
def test_faults_map_to_what_the_caller_should_do(body, error, not_error):
    with pytest.raises(error) as caught:
        soap.parse_response("SaveInvoice", body, record="quote 100-1403/123", status=500)
    if not_error:
        assert not isinstance(caught.value, not_error)
    assert str(caught.value).startswith("quote 100-1403/123: ")
    assert caught.value.endpoint == "IInvoice/SaveInvoice"


def test_a_fault_message_is_kept_for_the_operator():
    with pytest.raises(RecordRejected, match="SOAP fault Client: کد مشتری نامعتبر است"):
        soap.parse_response("SavePayment", fault("s:Client", "کد مشتری نامعتبر است"))
