"""The type-code check: the settings' CRM type codes against the CRM's own (``ICrmObjectType/
GetCrmObjectTypeList``, through ``PayamgostarClient.crm_object_types``): the comparison on its own, then the
real client against the sandbox, which lists the subtypes of its settings."""

from __future__ import annotations

import yaml
from check_world import demo_settings

from hamgam.check.crm import CrmChecks, compare_type_code, type_codes
from hamgam.check.report import Row
from hamgam.config import parse_config
from hamgam.payamgostar.client import PayamgostarClient

QUOTE_TYPES = [  # CrmObjectTypeBasicInfo, as GetCrmObjectTypeList answers (payamgostar-api §4.3)
    {"Id": "0b7b1f6e-0000-4000-8000-000000000001", "UserKey": "quote", "Name": "پیش فاکتور کالا",
     "IsActive": True, "IsAbstract": False, "CrmObjectType": "Quote"},
    {"Id": "0b7b1f6e-0000-4000-8000-000000000002", "UserKey": "service_quote", "Name": "پیش فاکتور خدمات",
     "IsActive": False, "IsAbstract": False, "CrmObjectType": "Quote"},
]


def test_a_known_type_code_passes():
    row = compare_type_code("crm: type code quotes.type_code", "quotes.type_code", "quote", QUOTE_TYPES)
    assert row == Row("ok", "crm: type code quotes.type_code", "'quote' (پیش فاکتور کالا)")


def test_an_unknown_type_code_fails_naming_the_crms_codes():
    row = compare_type_code("crm: type code quotes.type_code", "quotes.type_code", "qoute", QUOTE_TYPES)
    assert row.status == "fail"
    assert row.found == "'qoute' is not a type code of the CRM (it has: quote, service_quote)"
    assert row.fix == ("set quotes.type_code to one of the CRM's type codes (quote, service_quote), or create "
                       "type 'qoute' in the CRM")


def test_a_type_code_in_other_letters_case_names_the_crms_spelling():
    row = compare_type_code("c", "quotes.type_code", "Quote", QUOTE_TYPES)
    assert row.status == "fail" and row.fix == "set quotes.type_code to 'quote' (the CRM's spelling)"


def test_an_inactive_type_code_is_a_warning():
    row = compare_type_code("c", "quotes.type_code", "service_quote", QUOTE_TYPES)
    assert row.status == "warn" and "inactive" in row.found


def test_every_type_code_of_the_settings_is_checked():
    from hamgam.config import load_config

    config = load_config()
    assert type_codes(config, "identities") == {"person_type_code": "person",
                                                "organization_type_code": "organization"}
    assert type_codes(config, "sales_invoices") == {"type_code": "sales_invoice"}
    assert type_codes(config, "products") == {}


class ListingClient(PayamgostarClient):
    """The real client, counting the indexes it is asked to list (the check caches each one)."""

    asked: list[str] = []

    def crm_object_types(self, index_name: str) -> list[dict]:
        self.asked.append(index_name)
        return super().crm_object_types(index_name)


def _checks(config, sandbox, client_class=ListingClient) -> CrmChecks:
    return CrmChecks(config, lambda: client_class(sandbox.base_url, sandbox.username, sandbox.password,
                                                  max_attempts=1))


def _config(**sections):
    return parse_config(yaml.safe_dump({**demo_settings(), **sections}, allow_unicode=True))


def test_the_check_asks_each_index_once_and_passes_the_demo_codes(sandbox):
    config = _config()
    checks = _checks(config, sandbox)
    ListingClient.asked = []
    try:
        rows = checks.entity_rows(["identities", "quotes", "sales_invoices"])
        rows += checks.entity_rows(["identities", "quotes", "sales_invoices"])
    finally:
        checks.close()
    types = [r for r in rows if r.check.startswith("crm: type code")]
    assert [r.check for r in types[:4]] == ["crm: type code identities.person_type_code",
                                            "crm: type code identities.organization_type_code",
                                            "crm: type code quotes.type_code", "crm: type code sales_invoices.type_code"]
    assert all(r.status == "ok" for r in rows), [r for r in rows if r.status != "ok"]
    assert ListingClient.asked == ["Identity", "Quote", "Invoice"]


def test_an_unknown_type_code_in_the_settings_fails_the_check(sandbox):
    config = _config(sales_invoices={"type_code": "sales_invoce"})
    checks = _checks(config, sandbox)
    try:
        rows = {r.check: r for r in checks.entity_rows(["sales_invoices"])}
    finally:
        checks.close()
    row = rows["crm: type code sales_invoices.type_code"]
    assert row.status == "fail"
    assert row.fix == ("set sales_invoices.type_code to one of the CRM's type codes (sales_invoice), or create "
                       "type 'sales_invoce' in the CRM")


def test_the_sandbox_knows_the_demo_type_codes(sandbox):
    from hamgam.entities import SPECS

    good, bad = _config(), _config(quotes={"type_code": "no_such_quote_type"})
    for config, expect_fail in ((good, False), (bad, True)):
        checks = _checks(config, sandbox, PayamgostarClient)
        try:
            rows = [r for r in checks.entity_rows(list(SPECS)) if r.check.startswith("crm: type code")]
        finally:
            checks.close()
        failed = [r.check for r in rows if r.status == "fail"]
        assert failed == (["crm: type code quotes.type_code"] if expect_fail else []), rows


class GarbledListingClient(PayamgostarClient):
    def crm_object_types(self, index_name: str) -> list[dict]:
        raise ValueError("CrmObjectTypeList is not a list")


def test_a_type_list_that_cannot_be_read_fails_that_row_and_the_check_goes_on(sandbox):
    checks = _checks(_config(), sandbox, GarbledListingClient)
    try:
        rows = {r.check: r for r in checks.entity_rows(["quotes"])}
    finally:
        checks.close()
    row = rows["crm: type code quotes.type_code"]
    assert row.status == "fail" and "ValueError: CrmObjectTypeList is not a list" in row.found
    assert rows["crm: quotes find (SOAP IInvoice/FindInvoiceByNumber)"].status == "ok"
