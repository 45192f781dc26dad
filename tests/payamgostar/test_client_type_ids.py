"""Save* calls carry the subtype's CrmObjectTypeId (and CrmObjectTypeIndex), resolved once per client through
ICrmObjectType.GetCrmObjectTypeList, as the vendor's clients send them; an unknown type code is a
configuration error naming the code and the index. Against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import PayamgostarError, RecordRejected, UnknownCrmObjectType
from pg_sandbox.testing import run_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("type-ids") / "sandbox.sqlite", quote_type_codes="quote,PI_5",
                     seed=11) as running:
        yield running


@pytest.fixture
def client(sandbox):
    sandbox.reset()
    sandbox.reset_stats()
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, sleep=lambda _: None) as c:
        yield c


def customer(client: PayamgostarClient, tag: str) -> str:
    return client.create_identity("person", {"crmObjectTypeCode": "person", "lastName": f"مشتری {tag}",
                                             "customerNumber": f"c-{tag}"})


def quote(client: PayamgostarClient, number: str, type_code: str = "PI_5") -> dict:
    product = client.save_product({"Code": f"p-{number}", "Name": f"کالا {number}", "UnitPrice": 1000})
    return {"CrmObjectTypeCode": type_code, "Number": number, "IdentityId": customer(client, number),
            "FinalValue": 1000, "Details": [{"ProductId": product, "Count": 1, "BaseUnitPrice": 1000,
                                             "FinalUnitPrice": 1000, "TotalUnitPrice": 1000}]}


def list_calls(sandbox) -> int:
    return sandbox.stats()["calls"].get("ICrmObjectType/GetCrmObjectTypeList", 0)


def test_the_subtypes_of_an_index_are_listed(client):
    types = client.crm_object_types("Quote")
    assert [(t["UserKey"], t["CrmObjectType"], t["IsActive"]) for t in types] == [
        ("quote", "Quote", True), ("PI_5", "Quote", True)]
    assert {"Id", "Name", "IsAbstract", "ParentId"} <= set(types[0])
    assert [t["UserKey"] for t in client.crm_object_types("Payment")] == ["payment"]
    with pytest.raises(ValueError, match="CrmObjectTypes"):
        client.crm_object_types("Quotes")


def test_a_save_sends_the_subtype_id_resolved_once_per_client(client, sandbox):
    pi5 = next(t["Id"] for t in client.crm_object_types("Quote") if t["UserKey"] == "PI_5")
    sandbox.reset_stats()
    first = client.save_quote(quote(client, "100-1404/1"))
    client.save_quote(quote(client, "100-1404/2"))
    client.save_payment({"CrmObjectTypeCode": "receipt", "Number": "100-1404/6-1", "FinalValue": 5,
                         "IdentityId": customer(client, "r1")}, kind="receipt")
    assert list_calls(sandbox) == 1  # the receipt index once more; the quotes' came from the cache above
    assert client.find_quote_by_id(first)["CrmObjectTypeId"] == pi5


def test_a_subtype_code_is_matched_ignoring_case(client):
    assert client.save_quote(quote(client, "100-1404/3", type_code="pi_5"))


def test_an_unknown_type_code_is_a_configuration_error_naming_code_and_index(client, sandbox):
    with pytest.raises(UnknownCrmObjectType, match=r"'PI_9'.*Quote.*quote, PI_5") as raised:
        client.save_quote(quote(client, "100-1404/4", type_code="PI_9"), record="quote 100-1404/4")
    assert not isinstance(raised.value, RecordRejected) and isinstance(raised.value, PayamgostarError)
    assert sandbox.records("quote") == []


def test_the_resolution_can_be_turned_off(sandbox):
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, resolve_type_ids=False,
                           sleep=lambda _: None) as client:
        sandbox.reset_stats()
        assert client.save_quote(quote(client, "100-1404/5", type_code="PI_9"))
        assert list_calls(sandbox) == 0
