"""The client against bad answers from the real sandbox over HTTP: HTML pages and cut-off bodies on 200,
SOAP Client faults after the write committed, refused logins and tokens in a concurrent map."""

from __future__ import annotations

import re
import threading

import pytest

from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import AuthError, GaveUp, PayamgostarError, RecordRejected
from pg_sandbox.testing import run_sandbox

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("answers") / "sandbox.sqlite", seed=5) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.clear_faults()
    sandbox.set_faults(token_ttl_seconds=7200.0)
    sandbox.reset()
    sandbox.reset_stats()
    yield
    sandbox.clear_faults()
    sandbox.set_faults(token_ttl_seconds=7200.0)


def make_client(sandbox, password: str | None = None, **kwargs) -> PayamgostarClient:
    kwargs.setdefault("sleep", lambda _: None)
    return PayamgostarClient(sandbox.base_url, sandbox.username, password or sandbox.password, **kwargs)


def person(number: str) -> dict:
    return {"crmObjectTypeCode": "person", "lastName": f"مشتری {number}", "customerNumber": number}


def product(code: str, **fields) -> dict:
    return {"Code": code, "Name": f"کالا {code}", "UnitPrice": 1000, **fields}


def receipt(identity: str, number: str) -> dict:
    return {"CrmObjectTypeCode": "receipt", "IdentityId": identity, "Number": number, "FinalValue": 50000,
            "PayDate": "2025-04-02T12:00:00", "PaymentType": "نقدی"}


def ids_by(sandbox, kind: str, key: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for r in sandbox.records(kind):
        found.setdefault(r[key], []).append(r["crmId"])
    return found


def calls(sandbox, name: str) -> int:
    return sandbox.stats()["calls"].get(name, 0)


def faults(sandbox, name: str) -> int:
    return sandbox.stats()["faults"].get(name, 0)


# -- (a) an answer that is not the answer is never an id ------------------------------------------------

def test_an_html_page_after_a_rest_create_is_recovered_by_lookup_not_saved_as_the_id(sandbox):
    client = make_client(sandbox)
    sandbox.set_faults(html_after_commit_rate=1.0)

    crm_id = client.create_identity("person", person("100-1"), record="customer 100-1")

    assert GUID.match(crm_id), crm_id
    assert ids_by(sandbox, "person", "customerNumber")["100-1"] == [crm_id]
    assert calls(sandbox, "person/create") == 1 and faults(sandbox, "html_after_commit") == 1


def test_an_html_page_after_a_sales_invoice_create_is_recovered_by_lookup(sandbox):
    client = make_client(sandbox)
    customer = client.create_identity("person", person("100-2"))
    client.save_product(product("P-2"))
    payload = {"crmObjectTypeCode": "Invoice1", "identityId": customer, "number": "100-1404/2",
               "invoiceDate": "2025-03-21T10:30:00", "totalValue": 1000, "finalValue": 1000,
               "details": [{"productCode": "P-2", "count": 1, "baseUnitPrice": 1000, "totalUnitPrice": 1000,
                            "finalUnitPrice": 1000}]}
    sandbox.set_faults(html_after_commit_rate=1.0)

    crm_id = client.create_sales_invoice(payload, record="sales_invoice 100-1404/2")

    assert GUID.match(crm_id), crm_id
    assert ids_by(sandbox, "sales_invoice", "number")["100-1404/2"] == [crm_id]
    assert calls(sandbox, "invoice/sales/create") == 1


def test_truncated_json_answers_to_creates_are_never_ids_and_nothing_is_created_twice(sandbox):
    client = make_client(sandbox, max_attempts=10)
    sandbox.set_faults(truncated_json_rate=0.4, seed=21)

    made = {f"100-3{n}": client.create_identity("person", person(f"100-3{n}")) for n in range(8)}

    assert faults(sandbox, "truncated_json") >= 2
    assert {number: [crm_id] for number, crm_id in made.items()} == ids_by(sandbox, "person", "customerNumber")
    assert calls(sandbox, "person/create") == 8


def test_an_html_page_before_a_create_is_retried_and_the_record_made_once(sandbox):
    client = make_client(sandbox, max_attempts=10)
    sandbox.set_faults(html_page_rate=0.4, seed=8)

    made = {f"100-4{n}": client.create_identity("person", person(f"100-4{n}")) for n in range(6)}

    assert faults(sandbox, "html_page") >= 2
    assert {number: [crm_id] for number, crm_id in made.items()} == ids_by(sandbox, "person", "customerNumber")


def test_an_html_page_after_a_soap_save_is_recovered_by_lookup(sandbox):
    client = make_client(sandbox)
    sandbox.set_faults(html_after_commit_rate=1.0)

    crm_id = client.save_product(product("P-5"), record="product P-5")

    assert GUID.match(crm_id), crm_id
    assert ids_by(sandbox, "product", "code")["P-5"] == [crm_id]
    assert calls(sandbox, "IProduct/SaveProduct") == 1


def test_truncated_soap_answers_to_saves_are_recovered_by_lookup(sandbox):
    client = make_client(sandbox, max_attempts=10)
    sandbox.set_faults(truncated_soap_rate=0.4, seed=13)

    made = {f"P-6{n}": client.save_product(product(f"P-6{n}")) for n in range(6)}

    assert faults(sandbox, "truncated_soap") >= 2
    assert {code: [crm_id] for code, crm_id in made.items()} == ids_by(sandbox, "product", "code")
    assert calls(sandbox, "IProduct/SaveProduct") == 6


def test_a_garbled_soap_answer_is_a_typed_retriable_error_naming_the_endpoint(sandbox):
    client = make_client(sandbox, max_attempts=2)
    sandbox.set_faults(truncated_soap_rate=1.0)

    with pytest.raises(GaveUp) as caught:
        client.find_product_by_code("P-7", record="product P-7")

    assert re.match(r"product P-7: gave up after 2 attempts: unexpected answer from IProduct/FindProductByCode: "
                    r"not XML, .+ \(text/xml, '<s:Envelope ", str(caught.value)), str(caught.value)


# -- (b) a surprise on one record fails that record, as a PayamgostarError naming the endpoint ---------

def test_an_html_page_on_a_find_is_a_record_error_naming_the_endpoint(sandbox):
    client = make_client(sandbox, max_attempts=2)
    client.login()
    sandbox.set_faults(html_page_rate=1.0)

    with pytest.raises(PayamgostarError) as caught:
        client.find_identity_by_customer_number("100-8", record="customer 100-8")

    message = str(caught.value)
    assert message.startswith("customer 100-8: ")
    assert "unexpected answer from crmobject/person/find: not JSON (text/html, '<!DOCTYPE html>" in message
    assert caught.value.record == "customer 100-8" and caught.value.endpoint == "crmobject/person/find"


def test_bad_answers_in_a_concurrent_map_are_per_record_errors(sandbox):
    client = make_client(sandbox, max_attempts=2, max_workers=3)
    client.login()
    sandbox.set_faults(html_page_rate=1.0)

    results = list(client.map_concurrent(
        lambda n: client.find_identity_by_customer_number(f"100-9{n}", record=f"customer 100-9{n}"), range(6)))

    assert len(results) == 6
    assert all(result is None and isinstance(error, PayamgostarError) for _, result, error in results)


# -- (c) an authentication failure stops the map at once --------------------------------------------------

class Counting:
    def __init__(self, fn):
        self.fn, self.calls, self._lock = fn, 0, threading.Lock()

    def __call__(self, item):
        with self._lock:
            self.calls += 1
        return self.fn(item)


def test_a_refused_login_stops_the_map_and_sends_no_record(sandbox):
    client = make_client(sandbox, password="wrong", max_workers=3)
    create = Counting(lambda n: client.create_identity("person", person(f"100-10{n:02d}"),
                                                       record=f"customer 100-10{n:02d}"))

    with pytest.raises(AuthError, match="login refused: wrong user name or password"):
        list(client.map_concurrent(create, range(30)))

    assert create.calls <= 3  # only what was already running; the queued records were never started
    assert calls(sandbox, "auth/login") == 1  # a refused login is not tried again (no lockout)
    assert calls(sandbox, "person/create") == 0 and sandbox.records() == []


def test_a_refused_login_is_not_retried_by_later_calls(sandbox):
    client = make_client(sandbox, password="wrong")
    for _ in range(3):
        with pytest.raises(AuthError, match="wrong user name or password"):
            client.find_identity_by_customer_number("100-11")
    assert calls(sandbox, "auth/login") == 1


def test_a_refused_fresh_token_stops_the_map(sandbox):
    sandbox.set_faults(token_ttl_seconds=0.0)  # every token the CRM hands out is already expired
    client = make_client(sandbox, max_workers=2)
    find = Counting(lambda n: client.find_identity_by_customer_number(f"100-12{n:02d}"))

    with pytest.raises(AuthError, match="refused a fresh token"):
        list(client.map_concurrent(find, range(30)))

    assert find.calls <= 2


def test_records_finished_before_an_auth_failure_are_still_yielded(sandbox):
    client = make_client(sandbox, max_workers=1)
    done = []

    def work(n: int) -> str:
        if n == 2:
            client._password = "changed"  # the integration user's password changed in the CRM meanwhile
            sandbox.revoke_tokens()
        return client.create_identity("person", person(f"100-13{n}"))

    with pytest.raises(AuthError):
        for item, _, error in client.map_concurrent(work, range(6)):
            done.append((item, error))
    assert done == [(0, None), (1, None)]
    assert sorted(ids_by(sandbox, "person", "customerNumber")) == ["100-130", "100-131"]


# -- (d) a save answered with a fault is looked up before it is called rejected ------------------------

def test_a_soap_client_fault_after_a_product_create_adopts_the_product(sandbox):
    client = make_client(sandbox)
    sandbox.set_faults(soap_fault_after_commit_rate=1.0)

    crm_id = client.save_product(product("P-14"), record="product P-14")

    assert ids_by(sandbox, "product", "code")["P-14"] == [crm_id]
    assert calls(sandbox, "IProduct/SaveProduct") == 1 and faults(sandbox, "soap_fault_after_commit") == 1


def test_a_soap_client_fault_after_a_receipt_create_adopts_the_receipt(sandbox):
    client = make_client(sandbox)
    customer = client.create_identity("person", person("100-15"))
    sandbox.set_faults(soap_fault_after_commit_rate=1.0)

    crm_id = client.save_payment(receipt(customer, "100-1404/1-15"), kind="receipt", record="receipt 100-1404/1-15")

    assert ids_by(sandbox, "receipt", "number")["100-1404/1-15"] == [crm_id]
    assert calls(sandbox, "IPayment/SavePayment") == 1


def test_a_refused_create_that_did_not_land_is_still_rejected_after_the_lookup(sandbox):
    client = make_client(sandbox)

    with pytest.raises(RecordRejected, match="unknown product unit"):
        client.save_product(product("P-16", ProductUnitType="فرسخ"), record="product P-16")

    assert calls(sandbox, "IProduct/FindProductByCode") == 1 and sandbox.records("product") == []
