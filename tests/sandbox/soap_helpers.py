"""Helpers for the SOAP tests: hand-written envelopes (as §4.2 shows them), a caller, and a reader
that turns a result element into plain dicts, lists and strings.

The data-contract snippets below are written by hand in XSD order, not generated from the
sandbox's contract table, so the tests also check that table.
"""

import itertools
import uuid
from typing import Any
from xml.etree import ElementTree as ET

import requests

from pg_sandbox.settings import SandboxSettings

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"
DC = "http://schemas.datacontract.org/2004/07/Septa.PayamGostar.ServiceLayer.Contract.PGContracts.DataContracts"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
DESERIALIZATION_FAILED = "a:DeserializationFailed"
# result members that hold arrays
LISTS = {"ProductInfoList", "InvoiceInfoList", "PaymentInfoList", "Details", "Tags", "ExtendedProperties",
         "PriceListInfo", "PriceListProducts", "RelatedInvoices", "CrmObjectTypeList", "PropertyGroups"}
_codes = itertools.count(1)


def unique_code(prefix: str = "P") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_codes)}"


def envelope(operation: str, params: str, user: str = SandboxSettings.username,
             password: str = SandboxSettings.password) -> str:
    return (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>'
            f'<{operation} xmlns="{TEMPURI}" xmlns:a="{DC}" xmlns:i="{XSI}" xmlns:b="{ARRAYS}">'
            f"<userName>{user}</userName><password>{password}</password>{params}"
            f"</{operation}></s:Body></s:Envelope>")


class Soap:
    """POSTs envelopes to /Services/API/<Service>.svc with the matching SOAPAction."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, service: str, operation: str, body: str, *, action: str | None = None,
             content_type: str = "text/xml; charset=utf-8") -> requests.Response:
        headers = {"Content-Type": content_type,
                   "SOAPAction": f'"{action if action is not None else f"{TEMPURI}{service}/{operation}"}"'}
        return requests.post(f"{self.base_url}/Services/API/{service}.svc", data=body.encode("utf-8"),
                             headers=headers, timeout=10)

    def call(self, service: str, operation: str, params: str = "", **credentials: str) -> dict[str, Any]:
        """Call with an envelope around `params`; expect 200 and return the `<Op>Result` as a dict."""
        response = self.post(service, operation, envelope(operation, params, **credentials))
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/xml")
        return result(response, operation)

    def fault(self, service: str, operation: str, body: str, **options: Any) -> tuple[str, str]:
        """Send a raw envelope; expect HTTP 500 with a SOAP Fault; return (faultcode, faultstring)."""
        return read_fault(self.post(service, operation, body, **options))


def result(response: requests.Response, operation: str) -> dict[str, Any]:
    root = ET.fromstring(response.content)
    found = root.find(f"{{{SOAP_ENV}}}Body/{{{TEMPURI}}}{operation}Response/{{{TEMPURI}}}{operation}Result")
    assert found is not None, response.text
    return _value(found)


def read_fault(response: requests.Response, status: int = 500) -> tuple[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    fault = ET.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, response.text
    return fault.findtext("faultcode"), fault.findtext("faultstring")


def _value(element: ET.Element) -> Any:
    if element.get(f"{{{XSI}}}nil") == "true":
        return None
    local = element.tag.rpartition("}")[2]
    if local in LISTS:
        return [_value(child) for child in element]
    if len(element):
        return {child.tag.rpartition("}")[2]: _value(child) for child in element}
    return element.text or ""


# ---- data contracts, by hand, in XSD order ------------------------------------------------------

def product(code: str, *, name: str = "کالای نمونه", unit: str | None = None, price: str = "1500000",
            product_id: str | None = None, service: bool = False) -> str:
    return ("<product>"
            "<a:BuyAble>true</a:BuyAble>"
            f"<a:Code>{code}</a:Code>"
            "<a:GroupId>3f2504e0-4f89-11d3-9a0c-0305e82c3301</a:GroupId>"
            + (f"<a:Id>{product_id}</a:Id>" if product_id else "")
            + f"<a:IsService>{'true' if service else 'false'}</a:IsService>"
            f"<a:Name>{name}</a:Name>"
            + (f"<a:ProductUnitType>{unit}</a:ProductUnitType>" if unit else "")
            + "<a:Sellable>true</a:Sellable>"
            f"<a:UnitPrice>{price}</a:UnitPrice>"
            "</product>")


def line(code: str | None = None, *, product_id: str | None = None, count: str = "1",
         price: str = "100000") -> str:
    """An InvoiceDetailInfo as PRESS builds it (base price, count, total, product code and id, IsService)."""
    return ("<a:InvoiceDetailInfo>"
            f"<a:BaseUnitPrice>{price}</a:BaseUnitPrice>"
            f"<a:Count>{count}</a:Count>"
            "<a:FinalUnitPrice>109000</a:FinalUnitPrice>"
            "<a:IsService>false</a:IsService>"
            + (f"<a:ProductCode>{code}</a:ProductCode>" if code else "")
            + (f"<a:ProductId>{product_id}</a:ProductId>" if product_id else "")
            + f"<a:TotalUnitPrice>{price}</a:TotalUnitPrice>"
            "<a:TotalVat>9000</a:TotalVat>"
            "</a:InvoiceDetailInfo>")


def invoice(identity_id: str, number: str, lines: list[str], *, invoice_type: str = "Invoice",
            type_code: str = "Invoice1", crm_id: str | None = None, final_value: str = "109000") -> str:
    return ("<invoiceInfo>"
            + (f"<a:CrmId>{crm_id}</a:CrmId>" if crm_id else "")
            + f"<a:CrmObjectTypeCode>{type_code}</a:CrmObjectTypeCode>"
            "<a:CrmObjectTypeIndex>5</a:CrmObjectTypeIndex>"
            f"<a:RefId>tadbir:{number}</a:RefId>"
            "<a:Tags><b:string>tadbir</b:string></a:Tags>"
            f"<a:IdentityId>{identity_id}</a:IdentityId>"
            f"<a:FinalValue>{final_value}</a:FinalValue>"
            f"<a:Number>{number}</a:Number>"
            f"<a:Details>{''.join(lines)}</a:Details>"
            "<a:InvoiceDate>2025-03-21T10:30:00</a:InvoiceDate>"
            f"<a:InvoiceType>{invoice_type}</a:InvoiceType>"
            "<a:TotalValue>100000</a:TotalValue>"
            "<a:Vat>9000</a:Vat>"
            "<a:VatPercent>9</a:VatPercent>"
            "</invoiceInfo>")


def return_line(code: str, *, invoice_number: str | None = None, invoice_id: str | None = None,
                invoice_type_code: str = "Invoice1") -> str:
    """A ReturnInvoiceDetailInfo: the product by code, the sales invoice through RelatedInvoices."""
    related = ""
    if invoice_number or invoice_id:
        related = ("<a:RelatedInvoices><a:RelatedReturnInvoiceDetailInfo><a:RelatedInvoiceInfo>"
                   + (f"<a:RelatedInvoiceId>{invoice_id}</a:RelatedInvoiceId>" if invoice_id else "")
                   + (f"<a:RelatedInvoiceNumber>{invoice_number}</a:RelatedInvoiceNumber>" if invoice_number else "")
                   + f"<a:RelatedInvoiceTypeCode>{invoice_type_code}</a:RelatedInvoiceTypeCode>"
                   "</a:RelatedInvoiceInfo><a:ReturnedCount>1</a:ReturnedCount></a:RelatedReturnInvoiceDetailInfo>"
                   "</a:RelatedInvoices>")
    return ("<a:ReturnInvoiceDetailInfo>"
            "<a:BaseUnitPrice>100000</a:BaseUnitPrice>"
            "<a:Count>1</a:Count>"
            "<a:FinalUnitPrice>109000</a:FinalUnitPrice>"
            f"<a:ProductCode>{code}</a:ProductCode>"
            f"{related}"
            "<a:TotalUnitPrice>100000</a:TotalUnitPrice>"
            "</a:ReturnInvoiceDetailInfo>")


def return_invoice(identity_id: str, number: str, lines: list[str], *, type_code: str = "Return1",
                   index: int | None = None) -> str:
    """A ReturnInvoiceInfo; `index` 16 (ReturnPurchaseInvoice) makes it a purchase return, none or 17 a sales one."""
    return ("<returnInvoiceInfo>"
            f"<a:CrmObjectTypeCode>{type_code}</a:CrmObjectTypeCode>"
            + (f"<a:CrmObjectTypeIndex>{index}</a:CrmObjectTypeIndex>" if index is not None else "")
            + f"<a:IdentityId>{identity_id}</a:IdentityId>"
            "<a:FinalValue>109000</a:FinalValue>"
            f"<a:Number>{number}</a:Number>"
            "<a:AdditionalCosts>0</a:AdditionalCosts>"
            f"<a:Details>{''.join(lines)}</a:Details>"
            "<a:InvoiceDate>2025-04-01T09:00:00</a:InvoiceDate>"
            "<a:TotalValue>100000</a:TotalValue>"
            "</returnInvoiceInfo>")


def payment(identity_id: str, number: str, *, type_code: str = "receipt", amount: str = "109000",
            crm_id: str | None = None, invoice_number: str | None = None, type_id: str | None = None) -> str:
    related = (f"<a:RelatedInvoiceNumber><a:RelatedInvoiceNumber>{invoice_number}</a:RelatedInvoiceNumber>"
               "</a:RelatedInvoiceNumber>") if invoice_number else ""
    return ("<paymentInfo>"
            + (f"<a:CrmId>{crm_id}</a:CrmId>" if crm_id else "")
            + f"<a:CrmObjectTypeCode>{type_code}</a:CrmObjectTypeCode>"
            + (f"<a:CrmObjectTypeId>{type_id}</a:CrmObjectTypeId>" if type_id else "")
            + f"<a:IdentityId>{identity_id}</a:IdentityId>"
            f"<a:FinalValue>{amount}</a:FinalValue>"
            f"<a:Number>{number}</a:Number>"
            "<a:IsPayed>true</a:IsPayed>"
            "<a:PayDate>2025-04-02T12:00:00+03:30</a:PayDate>"
            "<a:PaymentType>نقدی</a:PaymentType>"
            f"<a:RefNo>TRK-{number}</a:RefNo>"
            f"{related}"
            "</paymentInfo>")
