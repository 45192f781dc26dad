"""The client's sweep reads against the sandbox over HTTP: identities modified since (REST find on
ModifyDate, paged) and quotes modified since (SOAP SearchQuote); and SearchQuote's envelope against the
vendor XSD."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from hamgam.payamgostar import soap
from hamgam.payamgostar.client import PayamgostarClient
from pg_sandbox.testing import run_sandbox
from vendor_wsdl import require_wsdl, wsdl_dir


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("sweep") / "sandbox.sqlite", seed=3,
                     quote_type_codes="quote,PI_5,PI_9") as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.clear_faults()
    sandbox.reset()
    sandbox.reset_stats()
    yield
    sandbox.clear_faults()


@pytest.fixture
def client(sandbox):
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, sleep=lambda _: None) as c:
        yield c


def person(number: str) -> dict:
    return {"crmObjectTypeCode": "person", "lastName": f"مشتری {number}", "customerNumber": number}


def organization(number: str) -> dict:
    return {"crmObjectTypeCode": "organization", "nickName": f"شرکت {number}", "customerNumber": number}


def crm_now(client: PayamgostarClient, kind: str, crm_id: str) -> datetime:
    """The record's ModifyDate: the CRM's own clock, Tehran wall time."""
    return datetime.fromisoformat(client.get_identity(kind, crm_id)["modifyDate"])


def test_wall_time_is_tehran_local_in_whole_seconds():
    assert PayamgostarClient._crm_wall_time(datetime(2026, 11, 28, 13, 30, 0, 999999, tzinfo=UTC)) == \
        "2026-11-28T17:00:00"
    assert PayamgostarClient._crm_wall_time(datetime(2026, 11, 28, 17, 0, 5, 500000)) == "2026-11-28T17:00:05"


def test_identities_modified_since_yields_persons_then_organizations_and_not_older(sandbox, client):
    old = client.create_identity("person", person("200-1"))
    time.sleep(1.05)  # the sweep sends whole seconds
    persons = [client.create_identity("person", person(f"200-{n}")) for n in range(2, 5)]
    org = client.create_identity("organization", organization("200-9"))
    since = crm_now(client, "person", persons[0]).replace(microsecond=0)
    sandbox.reset_stats()
    found = list(client.identities_modified_since(since, page_size=2))
    assert [(kind, record["crmId"]) for kind, record in found] == [("person", i) for i in persons] + [
        ("organization", org)]
    assert old not in {record["crmId"] for _, record in found}
    calls = sandbox.stats()["calls"]
    assert (calls["person/find"], calls["organization/find"]) == (2, 1)  # pages of 2: 2 + 1, then 1


def test_a_full_last_page_needs_no_extra_call(sandbox, client):
    ids = [client.create_identity("organization", organization(f"201-{n}")) for n in range(4)]
    since = crm_now(client, "organization", ids[0]) - timedelta(seconds=1)
    sandbox.reset_stats()
    found = [record["crmId"] for kind, record in client.identities_modified_since(since, page_size=2)]
    assert found == ids and sandbox.stats()["calls"]["organization/find"] == 2


def test_an_aware_since_is_converted_to_crm_wall_time(client):
    crm_id = client.create_identity("person", person("202-1"))
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert crm_id in {record["crmId"] for _, record in client.identities_modified_since(since)}
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert list(client.identities_modified_since(later)) == []


def test_an_update_brings_an_old_identity_into_the_sweep(client):
    crm_id = client.create_identity("person", person("203-1"))
    time.sleep(1.05)
    marker = client.create_identity("organization", organization("203-2"))
    since = crm_now(client, "organization", marker).replace(microsecond=0)
    assert crm_id not in {r["crmId"] for _, r in client.identities_modified_since(since)}
    client.update_identity("person", crm_id, {"crmObjectTypeCode": "person", "lastName": "ویرایش"})
    assert crm_id in {r["crmId"] for _, r in client.identities_modified_since(since)}


def test_the_sweep_rides_out_faults(sandbox, client):
    ids = [client.create_identity("person", person(f"204-{n}")) for n in range(3)]
    since = crm_now(client, "person", ids[0]) - timedelta(seconds=1)
    sandbox.set_faults(error_rate=0.3, rate_limit_rate=0.2, retry_after_seconds=0, seed=5)
    found = [r["crmId"] for kind, r in client.identities_modified_since(since, page_size=1) if kind == "person"]
    assert found == ids
    assert sum(sandbox.stats()["faults"].values()) >= 1


def test_page_size_must_be_positive(client):
    with pytest.raises(ValueError):
        next(client.identities_modified_since(datetime.now(), page_size=0))


# ---- quotes ------------------------------------------------------------------------------------

@pytest.fixture
def customer(client) -> str:
    return client.create_identity("person", person(f"300-{uuid.uuid4().hex[:6]}"))


@pytest.fixture
def product(client) -> str:
    code = f"P-{uuid.uuid4().hex[:6]}"
    client.save_product({"Code": code, "Name": "کالای نمونه", "ProductUnitType": "عدد", "UnitPrice": 1000})
    return code


def quote(customer: str, product: str, type_code: str = "PI_5", number: str | None = None) -> dict:
    return {"CrmObjectTypeCode": type_code, "IdentityId": customer, "Number": number or f"Q-{uuid.uuid4().hex[:8]}",
            "FinalValue": 1090, "TotalValue": 1000, "Vat": 90, "VatPercent": 9,
            "Details": [{"ProductCode": product, "Count": 1, "BaseUnitPrice": 1000, "FinalUnitPrice": 1090,
                         "TotalUnitPrice": 1000, "TotalVat": 90}]}


def test_quotes_modified_since_finds_new_and_edited_quotes_not_older(client, customer, product):
    old = client.save_quote(quote(customer, product))
    edited = client.save_quote(quote(customer, product))
    time.sleep(1.05)
    new = client.save_quote(quote(customer, product))
    since = client.find_quote_by_id(new)["ModifyDate"].replace(microsecond=0)
    assert [q["CrmId"] for q in client.quotes_modified_since(since)] == [new]
    client.save_quote({**quote(customer, product), "CrmId": edited})
    found = client.quotes_modified_since(since)
    assert [q["CrmId"] for q in found] == [edited, new] and old not in [q["CrmId"] for q in found]
    assert isinstance(found[0]["ModifyDate"], datetime) and found[0]["InvoiceType"] == "Quote"
    assert found[0]["Details"][0]["ProductCode"] == product


def test_quotes_modified_since_filters_by_subtype_and_an_empty_code_means_all(client, customer, product):
    start = datetime.now(UTC) - timedelta(minutes=1)
    mine = client.save_quote(quote(customer, product, type_code="PI_5"))
    theirs = client.save_quote(quote(customer, product, type_code="PI_9"))
    assert [q["CrmId"] for q in client.quotes_modified_since(start, "PI_5")] == [mine]
    assert [q["CrmId"] for q in client.quotes_modified_since(start)] == [mine, theirs]


def test_no_quotes_modified_since_is_an_empty_list(sandbox, client):
    assert client.quotes_modified_since(datetime.now(UTC) + timedelta(hours=1)) == []
    assert sandbox.stats()["calls"]["IInvoice/SearchQuote"] == 1


def test_search_quote_request_validates_against_the_vendor_xsd():
    require_wsdl()
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(wsdl_dir() / "IInvoice.xsd"))
    headers, body = soap.build_request("IInvoice", "SearchQuote", "etl-user", "secret", typeKey="",
                                       query='ModifyDate >= "2026-11-28T17:00:00"')
    assert headers["SOAPAction"] == '"http://tempuri.org/IInvoice/SearchQuote"'
    [wrapper] = list(list(ET.fromstring(body))[0])
    assert [child.tag.rpartition("}")[2] for child in wrapper] == ["userName", "password", "typeKey", "query"]
    schema.validate(wrapper)
