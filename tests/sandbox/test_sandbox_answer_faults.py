"""Injected bad answers: an HTML page on 200 (before or after the write), a cut-off JSON or SOAP body on 200,
a SOAP Client fault after the write committed. Each is a rate, settable at runtime and counted in the stats."""

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from sandbox_helpers import person
from soap_helpers import SOAP_ENV, envelope, product, read_fault, unique_code

from pg_sandbox.__main__ import parse_args, settings_from_args
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.testing import ANSWER_FAULTS


def customer_numbers(pg) -> set[str]:
    return {r["customerNumber"] for r in pg.records("person")}


def product_codes(pg) -> set[str]:
    return {r["code"] for r in pg.records("product")}


def save_product(soap, code: str) -> requests.Response:
    return soap.post("IProduct", "SaveProduct", envelope("SaveProduct", product(code)))


def assert_html_200(response: requests.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_an_html_page_comes_instead_of_the_answer_and_nothing_is_written(pg, api, soap):
    sent, code = person(), unique_code()
    pg.reset_stats()
    pg.set_faults(html_page_rate=1.0)

    created = api.post("crmobject/person/create", sent)
    saved = save_product(soap, code)
    found = api.post("crmobject/person/find", {})  # reads get the page too

    pg.set_faults(html_page_rate=0.0)
    for response in (created, saved, found):
        assert_html_200(response)
    assert sent["customerNumber"] not in customer_numbers(pg) and code not in product_codes(pg)
    stats = pg.stats()
    assert stats["faults"] == {"html_page": 3} and stats["writes"] == 0 and stats["statuses"] == {"200": 3}


def test_an_html_page_after_the_commit_keeps_the_write(pg, api, soap):
    sent, code = person(), unique_code()
    pg.reset_stats()
    pg.set_faults(html_after_commit_rate=1.0)

    created = api.post("crmobject/person/create", sent)
    saved = save_product(soap, code)
    found = api.post("crmobject/person/find", {})  # a read is not a write: answered as usual

    assert_html_200(created)
    assert_html_200(saved)
    assert found.status_code == 200 and "data" in found.json()
    assert sent["customerNumber"] in customer_numbers(pg) and code in product_codes(pg)
    stats = pg.stats()
    assert stats["faults"] == {"html_after_commit": 2} and stats["writes"] == 2


def test_a_truncated_json_answer_is_a_cut_off_200_after_the_work_is_done(pg, api, soap):
    sent, code = person(), unique_code()
    pg.reset_stats()
    pg.set_faults(truncated_json_rate=1.0)

    created = api.post("crmobject/person/create", sent)
    found = api.post("crmobject/person/find", {})
    saved = save_product(soap, code)  # SOAP answers are not JSON: untouched

    for response in (created, found):
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        assert response.content and response.text.startswith("{")
        with pytest.raises(ValueError):
            json.loads(response.content)
    assert sent["customerNumber"] in customer_numbers(pg)
    assert saved.status_code == 200 and ET.fromstring(saved.content) is not None
    stats = pg.stats()
    assert stats["faults"] == {"truncated_json": 2} and stats["writes"] == 2


def test_a_truncated_soap_answer_is_a_cut_off_envelope_after_the_work_is_done(pg, api, soap):
    sent, code = person(), unique_code()
    pg.reset_stats()
    pg.set_faults(truncated_soap_rate=1.0)

    saved = save_product(soap, code)
    created = api.post("crmobject/person/create", sent)  # REST answers are untouched

    assert saved.status_code == 200 and saved.headers["Content-Type"].startswith("text/xml")
    assert saved.content.startswith(b"<") and f"{SOAP_ENV}".encode() in saved.content
    with pytest.raises(ET.ParseError):
        ET.fromstring(saved.content)
    assert code in product_codes(pg)
    assert created.status_code == 200 and created.json()["crmId"]
    stats = pg.stats()
    assert stats["faults"] == {"truncated_soap": 1} and stats["writes"] == 2


def test_a_soap_client_fault_after_the_commit_keeps_the_write(pg, api, soap):
    sent, code = person(), unique_code()
    pg.reset_stats()
    pg.set_faults(soap_fault_after_commit_rate=1.0)

    faultcode, message = read_fault(save_product(soap, code))
    found = soap.post("IProduct", "FindProductByCode",
                      envelope("FindProductByCode", f"<code>{code}</code><groupName/>"))  # reads: as usual
    created = api.post("crmobject/person/create", sent)  # REST has no SOAP fault

    assert faultcode == "s:Client" and "pg_sandbox" in message
    assert code in product_codes(pg)
    assert found.status_code == 200 and code.encode() in found.content
    assert created.status_code == 200
    stats = pg.stats()
    assert stats["faults"] == {"soap_fault_after_commit": 1} and stats["writes"] == 2


def test_a_refused_soap_write_gets_no_fault_after_commit(pg, soap):
    pg.reset_stats()
    pg.set_faults(soap_fault_after_commit_rate=1.0, html_after_commit_rate=1.0)
    refused = soap.post("IProduct", "SaveProduct", envelope("SaveProduct", product("")))  # no code: refused
    assert refused.status_code == 200 and b"<a:Success>false</a:Success>" in refused.content.replace(b" ", b"")
    assert pg.stats()["faults"] == {}


def test_the_same_seed_gives_the_same_bad_answers_and_keeps_the_old_faults(pg, api):
    def statuses(**rates):
        pg.set_faults(seed=42, error_rate=0.5, **rates)
        answers = [api.post("crmobject/person/find", {}) for _ in range(16)]
        return [(r.status_code, r.headers["Content-Type"].split(";")[0]) for r in answers]

    plain = statuses()
    first, second = statuses(html_page_rate=0.5), statuses(html_page_rate=0.5)

    assert first == second
    assert {status for status, _ in first} == {200, 500} and ("text/html" in {kind for _, kind in first})
    # the new draws come from their own sequence: the 500s fall where they fell without them
    assert [status == 500 for status, _ in first] == [status == 500 for status, _ in plain]


@pytest.mark.parametrize("name", ANSWER_FAULTS)
def test_answer_fault_rates_are_runtime_settings_between_0_and_1(pg, name):
    assert pg.set_faults(**{name: 0.25})[name] == 0.25
    response = requests.post(f"{pg.base_url}/_sandbox/settings", json={name: 1.5}, timeout=5)
    assert response.status_code == 400 and pg.settings()[name] == 0.25
    with pytest.raises(ValueError):
        SandboxSettings(**{name: -0.1})
    assert getattr(SandboxSettings(), name) == 0.0


def test_answer_fault_rates_come_from_flags_and_environment():
    args = parse_args(["--html-page-rate", "0.1", "--truncated-soap-rate", "0.5"])
    settings = settings_from_args(args)
    assert (settings.html_page_rate, settings.truncated_soap_rate) == (0.1, 0.5)
    env = {"PG_SANDBOX_SOAP_FAULT_AFTER_COMMIT_RATE": "0.25", "PG_SANDBOX_TRUNCATED_JSON_RATE": "1"}
    settings = SandboxSettings.from_env(env)
    assert (settings.soap_fault_after_commit_rate, settings.truncated_json_rate) == (0.25, 1.0)
