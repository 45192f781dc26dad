"""The client's document methods over SOAP and REST: the shared retry path, adopting a create that
landed, deletes that tell "not there" from "refused". Canned answers through a requests adapter
(no network); end-to-end runs against the sandbox live elsewhere."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from hamgam.payamgostar import soap
from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import GaveUp, NotFound, RecordRejected

BASE = "http://crm.test"
DC = soap.DATA_CONTRACTS
QUOTE_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
OTHER_ID = "11111111-2222-3333-4444-555555555555"


class CannedCRM(BaseAdapter):
    """Answers each operation (SOAP) or path (REST) from its own queue, and keeps every request."""

    def __init__(self):
        super().__init__()
        self.answers: dict[str, list[tuple[int, dict, bytes]]] = defaultdict(list)
        self.sent: list[tuple[str, requests.PreparedRequest]] = []

    def add(self, key: str, status: int, body: bytes | dict | str, headers: dict | None = None) -> None:
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.answers[key].append((status, headers or {}, body))

    def send(self, request, **kwargs):
        action = request.headers.get("SOAPAction")
        key = action.strip('"').rpartition("/")[2] if action else request.url.removeprefix(f"{BASE}/api/v2/")
        self.sent.append((key, request))
        assert self.answers[key], f"no canned answer left for {key}; calls so far: {self.calls()}"
        status, headers, body = self.answers[key].pop(0)
        response = requests.Response()
        response.status_code, response._content, response.request, response.url = status, body, request, request.url
        response.headers = CaseInsensitiveDict(headers)
        return response

    def close(self):
        pass

    def calls(self) -> list[str]:
        return [key for key, _ in self.sent]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def crm() -> CannedCRM:
    return CannedCRM()


@pytest.fixture
def client(crm) -> PayamgostarClient:
    c = PayamgostarClient(BASE, "etl-user", "secret", sleep=Sleeps(), max_attempts=4)
    c.session.mount("http://", crm)
    return c


def answer(operation: str, result: str) -> str:
    return (f'<s:Envelope xmlns:s="{soap.SOAP_ENV}"><s:Body><{operation}Response xmlns="http://tempuri.org/">'
            f'<{operation}Result xmlns:a="{DC}" xmlns:i="{soap.XSI}">{result}</{operation}Result>'
            f"</{operation}Response></s:Body></s:Envelope>")


def saved(operation: str, crm_id: str = QUOTE_ID, success: bool = True, message: str | None = None) -> str:
    msg = f"<a:Message>{message}</a:Message>" if message else '<a:Message i:nil="true"/>'
    return answer(operation, f"{msg}<a:Success>{str(success).lower()}</a:Success><a:CrmId>{crm_id}</a:CrmId>")


def found_invoice(operation: str, *invoices: tuple[str, str]) -> str:
    items = "".join(f"<a:InvoiceInfo><a:CrmId>{crm_id}</a:CrmId><a:FinalValue>109000.0000</a:FinalValue>"
                    f"<a:Number>{number}</a:Number></a:InvoiceInfo>" for crm_id, number in invoices)
    return answer(operation, f"<a:Success>true</a:Success><a:InvoiceInfoList>{items}</a:InvoiceInfoList>")


def fault(code: str, message: str) -> str:
    return (f'<s:Envelope xmlns:s="{soap.SOAP_ENV}"><s:Body><s:Fault><faultcode>{code}</faultcode>'
            f"<faultstring>{message}</faultstring></s:Fault></s:Body></s:Envelope>")


QUOTE = {"CrmObjectTypeCode": "Productinvoice", "Number": "100-1403/123", "FinalValue": 109000,
         "Details": [{"ProductCode": "P-1", "Count": 1, "BaseUnitPrice": 100000}]}


def test_a_soap_call_carries_the_credentials_action_and_contract(client, crm):
    crm.add("SaveInvoice", 200, saved("SaveInvoice"))
    assert client.save_quote(QUOTE, record="quote 100-1403/123") == QUOTE_ID
    ((key, request),) = crm.sent
    assert request.url == f"{BASE}/Services/API/IInvoice.svc"
    assert request.headers["SOAPAction"] == '"http://tempuri.org/IInvoice/SaveInvoice"'
    assert request.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert "Authorization" not in request.headers
    wrapper = ET.fromstring(request.body)[0][0]
    assert [wrapper[0].text, wrapper[1].text] == ["etl-user", "secret"]
    info = wrapper.find("{http://tempuri.org/}invoiceInfo")
    assert info.find(f"{{{DC}}}InvoiceType").text == "Quote"
    assert info.find(f"{{{DC}}}CrmObjectTypeIndex").text == "8"


def test_a_server_fault_is_retried_and_a_create_looks_before_it_resends(client, crm):
    crm.add("SaveInvoice", 500, fault("s:Server", "deadlock"))
    crm.add("FindInvoiceByNumber", 200, found_invoice("FindInvoiceByNumber"))  # it had not landed
    crm.add("SaveInvoice", 200, saved("SaveInvoice"))
    assert client.save_quote(QUOTE) == QUOTE_ID
    assert crm.calls() == ["SaveInvoice", "FindInvoiceByNumber", "SaveInvoice"]
    assert len(client._sleep) == 1 and client._sleep[0] > 0


def test_a_create_that_landed_before_a_500_is_adopted_not_sent_again(client, crm):
    crm.add("SaveInvoice", 500, fault("a:InternalServiceFault", "internal error"))
    crm.add("FindInvoiceByNumber", 200, found_invoice("FindInvoiceByNumber", (OTHER_ID, "100-1403/1234"),
                                                      (QUOTE_ID, "100-1403/123")))
    assert client.save_quote(QUOTE, record="quote 100-1403/123") == QUOTE_ID
    assert crm.calls() == ["SaveInvoice", "FindInvoiceByNumber"]


def test_rate_limit_waits_at_least_retry_after(client, crm):
    crm.add("FindProductByCode", 429, "", {"Retry-After": "3"})
    crm.add("FindProductByCode", 200, answer("FindProductByCode", "<a:Success>true</a:Success><a:ProductInfoList>"
                                             "<a:ProductInfo><a:Code>P-10</a:Code></a:ProductInfo>"
                                             f"<a:ProductInfo><a:Code>P-1</a:Code><a:Id>{OTHER_ID}</a:Id>"
                                             "<a:UnitPrice>1500000.00</a:UnitPrice></a:ProductInfo>"
                                             "</a:ProductInfoList>"))
    assert client.find_product_by_code("P-1") == {"Code": "P-1", "Id": OTHER_ID, "UnitPrice": Decimal("1500000")}
    assert client._sleep[0] >= 3


def test_a_client_fault_is_not_retried_and_names_the_record(client, crm):
    crm.add("SavePayment", 500, fault("s:Client", "مشتری یافت نشد"))
    with pytest.raises(RecordRejected) as caught:
        client.save_payment({"Number": "100-1403/000012-1", "FinalValue": 5}, kind="receipt",
                            record="receipt 100-1403/000012-1")
    assert str(caught.value).startswith("receipt 100-1403/000012-1: the CRM rejected it (SOAP fault Client: مشتری")
    assert crm.calls() == ["SavePayment"]


def test_persistent_server_faults_give_up(client, crm):
    for _ in range(4):
        crm.add("FindReceiptByNumber", 500, fault("s:Server", "down"))
    with pytest.raises(GaveUp, match="gave up after 4 attempts"):
        client.find_receipt_by_number("100-1403/000012-1", "Receipt")


@pytest.mark.parametrize(("body", "reason"), [
    (saved("SaveProduct", soap.ZERO_GUID, success=False, message="کد تکراری"), "the CRM refused it: کد تکراری"),
    (saved("SaveProduct", soap.ZERO_GUID), "the CRM answered success without an id"),
])
def test_an_unsuccessful_save_is_a_rejection_with_the_servers_reason(client, crm, body, reason):
    crm.add("SaveProduct", 200, body)
    with pytest.raises(RecordRejected, match=reason):
        client.save_product({"Code": "P-1", "Name": "x"}, record="product P-1")


def test_a_retried_product_create_adopts_the_product_by_code(client, crm):
    crm.add("SaveProduct", 503, "")
    crm.add("FindProductByCode", 200, answer("FindProductByCode", "<a:Success>true</a:Success><a:ProductInfoList>"
                                             f"<a:ProductInfo><a:Code>P-1</a:Code><a:Id>{OTHER_ID}</a:Id>"
                                             "</a:ProductInfo></a:ProductInfoList>"))
    assert client.save_product({"Code": "P-1", "Name": "x"}, record="product P-1") == OTHER_ID
    assert crm.calls() == ["SaveProduct", "FindProductByCode"]


def test_save_payment_without_a_kind_asks_both_finders_on_a_retry(client, crm):
    crm.add("SavePayment", 502, "bad gateway")
    crm.add("FindReceiptByNumber", 200, answer("FindReceiptByNumber", "<a:Success>false</a:Success>"))
    crm.add("FindPaymentByNumber", 200, answer("FindPaymentByNumber", (
        "<a:Success>true</a:Success><a:PaymentInfo>"
        f"<a:CrmId>{QUOTE_ID}</a:CrmId><a:Number>P-9</a:Number></a:PaymentInfo>")))
    assert client.save_payment({"Number": "P-9", "CrmObjectTypeCode": "Pay"}) == QUOTE_ID
    assert crm.calls() == ["SavePayment", "FindReceiptByNumber", "FindPaymentByNumber"]


def test_deletes_tell_not_there_from_refused(client, crm):
    crm.add("DeleteInvoiceByNumber", 200, answer("DeleteInvoiceByNumber", "<a:Success>true</a:Success>"))
    assert client.delete_quote_by_number("100-1403/123", "Productinvoice") is True
    body = crm.sent[-1][1].body.decode()
    assert "<tns:deleteOption>DeleteWithHistory</tns:deleteOption>" in body

    crm.add("DeleteReceiptByNumber", 200, saved("DeleteReceiptByNumber", soap.ZERO_GUID, False, "یافت نشد"))
    crm.add("FindReceiptByNumber", 200, answer("FindReceiptByNumber", "<a:Success>false</a:Success>"))
    assert client.delete_receipt_by_number("100-1403/000012-1") is False

    crm.add("DeleteReturnInvoiceByNumber", 200, answer("DeleteReturnInvoiceByNumber",
                                                       "<a:Message>in use</a:Message><a:Success>false</a:Success>"))
    crm.add("FindReturnInvoiceByNumber", 200, found_invoice("FindReturnInvoiceByNumber", (QUOTE_ID, "100-1403/7")))
    with pytest.raises(RecordRejected, match="refused to delete it: in use"):
        client.delete_return_invoice_by_number("100-1403/7", "ReturnSaleInvoice", record="sales_return 100-1403/7")


def rest_login(crm: CannedCRM) -> None:
    crm.add("auth/login", 200, {"accessToken": "t", "expiresAt": None})


def test_sales_invoice_create_adopts_what_a_500_after_commit_left(client, crm):
    rest_login(crm)
    crm.add("crmobject/invoice/sales/create", 500, {"errorMessage": "boom"})
    crm.add("crmobject/invoice/sales/find", 200, {"total": 1, "data": [{"crmId": QUOTE_ID, "number": "100-1403/55"}]})
    payload = {"crmObjectTypeCode": "SaleInvoice", "number": "100-1403/55", "details": []}
    assert client.create_sales_invoice(payload, record="sales_invoice 100-1403/55") == QUOTE_ID
    assert crm.calls() == ["auth/login", "crmobject/invoice/sales/create", "crmobject/invoice/sales/find"]
    assert json.loads(crm.sent[-1][1].body) == {
        "typeKey": "SaleInvoice", "pageNumber": 1, "pageSize": 2,
        "queries": [{"field": "Number", "operator": 0, "value": "100-1403/55", "logicalOperator": 0}]}


def test_sales_invoice_update_delete_and_quote_get(client, crm):
    rest_login(crm)
    crm.add("crmobject/invoice/sales/update", 200, {"crmId": QUOTE_ID})
    crm.add("crmobject/invoice/sales/delete", 404, {"errorMessage": "not found"})
    crm.add("crmobject/quote/sales/get", 200, {"crmId": QUOTE_ID, "quoteType": "Quote"})
    assert client.update_sales_invoice(QUOTE_ID, {"number": "100-1403/55"}) == QUOTE_ID
    assert json.loads(crm.sent[-1][1].body) == {"number": "100-1403/55", "crmId": QUOTE_ID}
    with pytest.raises(NotFound):
        client.delete_sales_invoice(OTHER_ID, record="sales_invoice 100-1403/56")
    assert client.get_quote(QUOTE_ID)["quoteType"] == "Quote"
    assert json.loads(crm.sent[-1][1].body) == {"id": QUOTE_ID}
