"""The typed document operations (``hamgam.payamgostar.documents``) against the sandbox over HTTP: a kind
assembled from its parts saves, finds and deletes by number, and a ``Search*`` look-up finds exactly the
number it is asked for."""

from __future__ import annotations

import pytest

from hamgam.payamgostar import documents
from hamgam.payamgostar.client import PayamgostarClient
from pg_sandbox.testing import run_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("kinds") / "sandbox.sqlite", seed=5,
                     quote_type_codes="quote,PI_5") as running:
        yield running


@pytest.fixture
def client(sandbox):
    sandbox.reset()
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, sleep=lambda _: None) as c:
        yield c


def _quote(client: PayamgostarClient, number: str) -> dict:
    identity = client.create_identity("person", {"crmObjectTypeCode": "person", "lastName": f"مشتری {number}",
                                                 "customerNumber": f"c-{number}"})
    product = client.save_product({"Code": f"p-{number}", "Name": f"کالا {number}", "UnitPrice": 1000})
    return {"CrmObjectTypeCode": "PI_5", "Number": number, "Subject": f"پیش‌فاکتور {number}",
            "IdentityId": identity, "FinalValue": 1000,
            "Details": [{"ProductId": product, "ProductCode": f"p-{number}", "Count": 1, "BaseUnitPrice": 1000,
                         "FinalUnitPrice": 1000, "TotalUnitPrice": 1000}]}


def test_search_by_number_finds_that_number_only(client):
    search = documents.SearchByNumber("IInvoice", "SearchQuote")
    first = documents.QUOTE.save(client, _quote(client, "100-1404/7"))
    documents.QUOTE.save(client, _quote(client, "100-1404/70"))
    found = search(client, "100-1404/7", "PI_5", None)
    assert found is not None and found["CrmId"] == first and found["Number"] == "100-1404/7"
    assert search(client, "100-1404/8", "PI_5", None) is None
    assert search(client, "100-1404/7", "another_type", None) is None


def test_a_kind_built_from_parts_saves_finds_and_deletes(client):
    kind = documents.SoapBillable("IInvoice", "SaveInvoice", "invoiceInfo",
                                  documents.SearchByNumber("IInvoice", "SearchQuote"), "DeleteInvoiceByNumber",
                                  documents.FindById("IInvoice", "FindQuoteById", "quoteId"), type_index=8, invoice_type="Quote", delete_params={"invoiceType": "Quote"})
    crm_id = kind.save(client, _quote(client, "100-1404/9"))
    assert kind.find_by_number(client, "100-1404/9", "PI_5")["CrmId"] == crm_id
    assert documents.QUOTE.find_by_number(client, "100-1404/9", "PI_5")["CrmId"] == crm_id  # the same quote
    assert kind.delete_by_number(client, "100-1404/9", "PI_5") is True
    assert kind.find_by_number(client, "100-1404/9", "PI_5") is None
    assert kind.delete_by_number(client, "100-1404/9", "PI_5") is False


def test_a_number_the_query_cannot_carry_is_refused_before_the_call(client):
    with pytest.raises(ValueError, match="double quote"):
        documents.SearchByNumber("IInvoice", "SearchQuote")(client, 'x"y', None, None)
