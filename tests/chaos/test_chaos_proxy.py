"""The chaos suite's instrument: each fault mode of the fault-injecting proxy does what it claims, in front
of a stub CRM that records what reached it (so "the CRM never sees the call" is checked, not assumed)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree as ET

import pytest
import requests

from hamgam.payamgostar import soap
from hamgam_dev.chaos.proxy import MODES, FaultPlan, FaultProxy, Trigger, classify

CRM_ID = "6f1c2a8e-0000-4000-8000-000000000001"
SOAP_OK = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
           b'<SaveProductResponse xmlns="http://tempuri.org/"><SaveProductResult><Message i:nil="true" '
           b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"/><Success>true</Success><CrmId>' + CRM_ID.encode()
           + b"</CrmId></SaveProductResult></SaveProductResponse></s:Body></s:Envelope>")


class StubCrm:
    """Answers like the CRM would (JSON for REST, an envelope for SOAP, 400 for .../reject) and records calls."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.seen.append((self.path, body))
                if self.path.endswith("/reject"):
                    status, kind, answer = 400, "application/json", b'{"error":"bad_request"}'
                elif ".svc" in self.path:
                    status, kind, answer = 200, "text/xml; charset=utf-8", SOAP_OK
                else:
                    status, kind = 200, "application/json; charset=utf-8"
                    answer = json.dumps({"crmId": CRM_ID, "customerNumber": "100-10001", "accessToken": "t",
                                         "padding": "x" * 40}).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]


@pytest.fixture(scope="module")
def crm():
    stub = StubCrm()
    yield stub
    stub.server.shutdown()


@pytest.fixture
def proxy(crm):
    crm.seen.clear()
    with FaultProxy(crm.url, seed=11) as running:
        yield running


def only(mode: str, **extra) -> FaultPlan:
    return FaultPlan(name=f"only {mode}", rate=1.0, weights={mode: 1.0}, **extra)


CREATE = "/api/v2/crmobject/person/create"
FIND = "/api/v2/crmobject/person/find"
PERSON = {"crmObjectTypeCode": "person", "customerNumber": "100-10001", "firstName": "سارا"}


def rest(proxy: FaultProxy, path: str = CREATE, body: dict | None = None, timeout: float = 10) -> requests.Response:
    return requests.post(proxy.url + path, json=PERSON if body is None else body, timeout=timeout)


def soap_call(proxy: FaultProxy, operation: str = "SaveProduct", **params) -> requests.Response:
    service = "IInvoice" if "Invoice" in operation else "IProduct"
    params = params or {"product": {"Code": "100-1001", "Name": "کابل"}}
    headers, body = soap.build_request(service, operation, "hamgam", "secret", **params)
    return requests.post(f"{proxy.url}/{soap.service_path(service)}", data=body, headers=headers, timeout=10)


def test_a_clean_plan_forwards_everything_and_logs_what_each_call_is_about(proxy, crm):
    answer = rest(proxy)
    assert answer.status_code == 200 and answer.json()["crmId"] == CRM_ID
    assert soap_call(proxy).content == SOAP_OK
    assert crm.paths() == [CREATE, "/Services/API/IProduct.svc"]
    first, second = proxy.calls()
    assert (first.operation, first.write, first.entity, first.subject) == ("person/create", True, "identities",
                                                                          "100-10001")
    assert (second.operation, second.write, second.entity, second.subject) == ("IProduct/SaveProduct", True,
                                                                               "products", "100-1001")
    assert all(c.forwarded and c.fault is None and c.status == 200 for c in proxy.calls())
    assert not proxy.injected()


def test_5xx_before_answers_503_and_the_crm_never_sees_the_call(proxy, crm):
    proxy.set_plan(only("5xx-before"))
    answer = rest(proxy)
    assert answer.status_code == 503 and "text/html" in answer.headers["Content-Type"]
    assert soap_call(proxy).status_code == 503
    assert crm.seen == []
    assert proxy.injected() == {"5xx-before": 2}


def test_5xx_after_commit_forwards_the_write_then_answers_500_and_leaves_reads_alone(proxy, crm):
    proxy.set_plan(only("5xx-after-commit"))
    answer = rest(proxy)
    assert answer.status_code == 500 and answer.json()["error"] == "server_error"
    assert soap_call(proxy).status_code == 502
    assert rest(proxy, FIND, {"queries": []}).status_code == 200  # writes only
    assert crm.paths() == [CREATE, "/Services/API/IProduct.svc", FIND]
    assert proxy.injected() == {"5xx-after-commit": 2}


def test_an_after_fault_does_not_replace_a_refusal_and_is_not_counted(proxy, crm):
    proxy.set_plan(only("5xx-after-commit"))
    assert rest(proxy, "/api/v2/crmobject/person/reject").status_code == 400
    assert not proxy.injected()


def test_429_bursts_carry_retry_after_and_the_crm_never_sees_them(proxy, crm):
    proxy.set_plan(only("429-burst", burst=3, caps={"429-burst": 1}, retry_after=2))
    answers = [rest(proxy, body={**PERSON, "customerNumber": f"100-{n}"}) for n in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert all(a.headers["Retry-After"] == "2" for a in answers[:3])
    assert answers[0].json()["error"] == "too_many_requests"
    assert crm.paths() == [CREATE]  # only the call after the burst
    assert proxy.injected() == {"429-burst": 3}
    soap_plan = only("429-burst", burst=1)
    proxy.set_plan(soap_plan)
    limited = soap_call(proxy)
    assert limited.status_code == 429 and soap.fault_of(limited.content) is not None


def test_a_retry_sooner_than_retry_after_is_reported(proxy):
    proxy.set_plan(only("429-burst", burst=1, caps={"429-burst": 1}, retry_after=5))
    assert rest(proxy).status_code == 429
    assert rest(proxy).status_code == 200  # at once: 5 s too early
    (call, early), = proxy.early_retries()
    assert call.subject == "100-10001" and early > 4


def test_slow_timeout_commits_the_call_and_holds_the_answer_past_the_client_timeout(proxy, crm):
    proxy.set_plan(only("slow-timeout", hold_seconds=2.0))
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        rest(proxy, timeout=0.5)
    assert time.monotonic() - started < 1.9
    assert crm.paths() == [CREATE]
    assert proxy.injected() == {"slow-timeout": 1}


def test_html200_before_is_a_maintenance_page_and_the_crm_never_sees_the_call(proxy, crm):
    proxy.set_plan(only("html200-before"))
    answer = rest(proxy)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError):
        answer.json()
    assert crm.seen == []


def test_html200_after_commit_forwards_the_write_then_answers_a_page(proxy, crm):
    proxy.set_plan(only("html200-after-commit"))
    answer = soap_call(proxy)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert crm.paths() == ["/Services/API/IProduct.svc"]
    assert proxy.injected() == {"html200-after-commit": 1}


def test_truncated_json_is_a_prefix_of_the_crm_answer_that_does_not_parse(proxy, crm):
    proxy.set_plan(only("truncated-json"))
    whole = requests.post(crm.url + FIND, json={}, timeout=10).content
    answer = rest(proxy, FIND, {})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert whole.startswith(answer.content) and len(answer.content) < len(whole)
    with pytest.raises(ValueError):
        json.loads(answer.content)
    assert soap_call(proxy).content == SOAP_OK  # REST only


def test_truncated_soap_is_a_prefix_of_the_envelope_that_is_not_xml(proxy, crm):
    proxy.set_plan(only("truncated-soap"))
    answer = soap_call(proxy)
    assert answer.status_code == 200 and SOAP_OK.startswith(answer.content) and answer.content != SOAP_OK
    with pytest.raises(ET.ParseError):
        ET.fromstring(answer.content)
    assert rest(proxy).status_code == 200  # SOAP only
    assert proxy.injected() == {"truncated-soap": 1}


def test_soap_faults_before_and_after_commit(proxy, crm):
    proxy.set_plan(only("soap-fault-before"))
    answer = soap_call(proxy)
    assert answer.status_code == 500
    assert soap.fault_of(answer.content).code == "InternalServiceFault"
    assert crm.seen == []
    proxy.set_plan(only("soap-fault-after-commit"))
    answer = soap_call(proxy)
    assert answer.status_code == 500 and soap.fault_of(answer.content).code == "InternalServiceFault"
    assert crm.paths() == ["/Services/API/IProduct.svc"]
    assert soap_call(proxy, "FindProductByCode", code="100-1001", groupName="").status_code == 200  # a read


def test_write_triggers_fire_after_the_commit_and_can_drop_the_answer(crm):
    fired = []

    def handler(trigger, call):
        fired.append((trigger.event, call.subject, call.forwarded))
        return "drop"

    with FaultProxy(crm.url, seed=1, on_trigger=handler) as proxy:
        proxy.set_plan(FaultPlan(name="kill", triggers=[Trigger("kill-load", 2, entity="identities")]))
        assert soap_call(proxy).status_code == 200  # a product write does not count
        assert rest(proxy, body={**PERSON, "customerNumber": "100-1"}).status_code == 200
        with pytest.raises(requests.ConnectionError):
            rest(proxy, body={**PERSON, "customerNumber": "100-2"})
        assert rest(proxy, body={**PERSON, "customerNumber": "100-3"}).status_code == 200  # fired once
    assert fired == [("kill-load", "100-2", True)]
    assert proxy.injected() == {"kill-load": 1}


def test_rest_triggers_fire_before_the_call_is_forwarded(crm):
    seen_by_crm_then = []
    with FaultProxy(crm.url, seed=1, on_trigger=lambda t, c: seen_by_crm_then.append(len(crm.seen))) as proxy:
        crm.seen.clear()
        proxy.set_plan(FaultPlan(name="revoke", triggers=[Trigger("token-revoked", 2, on="rest")]))
        rest(proxy, "/api/v2/auth/login", {"username": "u"})  # login is not counted
        rest(proxy)
        rest(proxy)
    assert seen_by_crm_then == [2]  # login and the first call had reached it, not the second


def test_a_crm_that_is_down_drops_the_line(crm):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with FaultProxy(closed, seed=1) as proxy:
        with pytest.raises(requests.ConnectionError):
            rest(proxy)
        assert proxy.calls()[0].event == "upstream-down" and proxy.calls()[0].status is None


def test_the_same_seed_picks_the_same_faults_for_the_same_calls(crm):
    def faults(seed: int) -> list[str | None]:
        with FaultProxy(crm.url, seed=seed) as proxy:
            proxy.set_plan(FaultPlan(name="mix", rate=0.5, weights={"5xx-before": 1, "html200-before": 1}))
            for n in range(30):
                rest(proxy, body={**PERSON, "customerNumber": f"100-{n}"})
            return [c.fault for c in proxy.calls()]

    first = faults(5)
    assert first == faults(5) and first != faults(6)
    assert {"5xx-before", "html200-before", None} == set(first)


def test_caps_bound_the_injections_of_a_mode(proxy):
    proxy.set_plan(FaultPlan(name="capped", rate=1.0, weights={"5xx-before": 1}, caps={"5xx-before": 2}))
    assert [rest(proxy).status_code for _ in range(4)] == [503, 503, 200, 200]


def test_what_a_call_is_about():
    _, body = soap.build_request("IPayment", "SavePayment", "u", "p", paymentInfo={
        "Number": "100-1403/6-15", "CrmObjectTypeIndex": 9, "CrmObjectTypeCode": "receipt"})
    assert classify("POST", "/Services/API/IPayment.svc", {"SOAPAction": '"http://tempuri.org/IPayment/SavePayment"'},
                    body) == ("soap", "IPayment/SavePayment", True, "receipts", "100-1403/6-15")
    _, body = soap.build_request("IInvoice", "DeleteReturnInvoiceByNumber", "u", "p", number="100-1403/3",
                                 typeCode="sales_return", deleteOption="DeleteWithHistory")
    assert classify("POST", "/Services/API/IInvoice.svc",
                    {"SOAPAction": '"http://tempuri.org/IInvoice/DeleteReturnInvoiceByNumber"'}, body)[1:] == (
        "IInvoice/DeleteReturnInvoiceByNumber", True, "sales_returns", "100-1403/3")
    find = {"typeKey": "sales_invoice", "queries": [{"field": "Number", "operator": 0, "value": "100-1403/9"}]}
    assert classify("POST", "/api/v2/crmobject/invoice/sales/find", {}, json.dumps(find).encode()) == (
        "rest", "invoice/sales/find", False, "sales_invoices", "100-1403/9")
    assert classify("POST", "/api/v2/crmobject/person/delete", {}, json.dumps({"Id": CRM_ID}).encode())[2:] == (
        True, "identities", CRM_ID)


def _soap_call(operation: str, params: str) -> tuple[dict[str, str], bytes]:
    """Headers and a hand-written IInvoice envelope (the client has no purchase operations yet)."""
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<{operation} xmlns="http://tempuri.org/" xmlns:a="http://schemas.datacontract.org/2004/07/'
            f'Septa.PayamGostar.ServiceLayer.Contract.PGContracts.DataContracts"><userName>u</userName>'
            f"<password>p</password>{params}</{operation}></s:Body></s:Envelope>")
    return {"SOAPAction": f'"http://tempuri.org/IInvoice/{operation}"'}, body.encode()


@pytest.mark.parametrize("operation, params, entity", [
    ("SaveReturnInvoice", "<returnInvoiceInfo><a:CrmObjectTypeCode>PR_1</a:CrmObjectTypeCode>"
     "<a:CrmObjectTypeIndex>16</a:CrmObjectTypeIndex><a:Number>100-1403/7</a:Number></returnInvoiceInfo>",
     "purchase_returns"),
    ("SaveReturnInvoice", "<returnInvoiceInfo><a:CrmObjectTypeCode>purchase_return</a:CrmObjectTypeCode>"
     "<a:Number>100-1403/7</a:Number></returnInvoiceInfo>", "purchase_returns"),
    ("SaveReturnInvoice", "<returnInvoiceInfo><a:CrmObjectTypeCode>sales_return</a:CrmObjectTypeCode>"
     "<a:CrmObjectTypeIndex>17</a:CrmObjectTypeIndex><a:Number>100-1403/7</a:Number></returnInvoiceInfo>",
     "sales_returns"),
    ("DeleteReturnInvoiceByNumber", "<number>100-1403/7</number><typeCode>purchase_return</typeCode>"
     "<deleteOption>Nothing</deleteOption>", "purchase_returns"),
    ("SearchReturnPurchaseInvoice", '<typeKey>purchase_return</typeKey><query>Number == "100-1403/7"</query>',
     "purchase_returns"),
    ("FindReturnPurchaseInvoiceById", f"<retPurchInvoiceId>{CRM_ID}</retPurchInvoiceId>", "purchase_returns"),
    ("SearchPurchaseInvoice", '<typeKey/><query>Number == "100-1403/7"</query>', "purchase_invoices"),
    ("SearchReturnSaleInvoice", '<typeKey/><query>Number == "100-1403/7"</query>', "sales_returns"),
])
def test_what_a_purchase_call_is_about(operation, params, entity):
    headers, body = _soap_call(operation, params)
    assert classify("POST", "/Services/API/IInvoice.svc", headers, body)[3] == entity
    create = {"crmObjectTypeCode": "purchase_invoice", "number": "100-1403/8"}
    assert classify("POST", "/api/v2/crmobject/invoice/purchase/create", {}, json.dumps(create).encode()) == (
        "rest", "invoice/purchase/create", True, "purchase_invoices", "100-1403/8")


def test_every_mode_is_tested_here():
    tested = {"5xx-before", "5xx-after-commit", "429-burst", "slow-timeout", "html200-before",
              "html200-after-commit", "truncated-json", "truncated-soap", "soap-fault-before",
              "soap-fault-after-commit"}
    assert tested == set(MODES)
