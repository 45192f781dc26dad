"""Injected faults: latency, slow calls, 429 with Retry-After, 500 before and after the write."""

import time

import pytest
import requests
from sandbox_helpers import assert_error, login, person


def test_error_rate_one_answers_500_and_writes_nothing(pg, api):
    sent = person()
    pg.set_faults(error_rate=1.0)

    assert_error(api.post("crmobject/person/create", sent), 500, "server_error")
    assert_error(login(pg.base_url), 500)  # login is an API call too
    assert requests.get(f"{pg.base_url}/_sandbox/health", timeout=5).status_code == 200  # admin is not

    pg.set_faults(error_rate=0.0)
    assert api.find("person", ("CustomerNumber", 0, sent["customerNumber"]))["total"] == 0


def test_rate_limit_answers_429_with_retry_after(pg, api):
    pg.set_faults(rate_limit_rate=1.0, retry_after_seconds=3)

    response = api.post("crmobject/person/find", {})

    assert_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"] == "3"


def test_error_after_commit_keeps_the_write(pg, api):
    sent = person()
    pg.set_faults(error_after_commit_rate=1.0)

    assert_error(api.post("crmobject/person/create", sent), 500)
    found = api.find("person", ("CustomerNumber", 0, sent["customerNumber"]))  # reads are not affected

    assert found["total"] == 1
    # a naive retry of the same create is refused: the record is already there
    assert_error(api.post("crmobject/person/create", sent), 400, "duplicate_customer_number")


def test_latency_is_added_to_every_call(pg, api):
    pg.set_faults(latency_ms=250)
    started = time.monotonic()
    api.post("crmobject/person/find", {})
    assert time.monotonic() - started >= 0.25


def test_slow_calls_sleep_longer_and_are_counted(pg, api):
    pg.set_faults(slow_rate=1.0, slow_ms=200)
    before = pg.stats()["faults"].get("slow", 0)

    started = time.monotonic()
    api.post("crmobject/person/find", {})

    assert time.monotonic() - started >= 0.2
    assert pg.stats()["faults"]["slow"] == before + 1


def test_same_seed_gives_the_same_faults(pg, api):
    def statuses():
        pg.set_faults(seed=42, error_rate=0.5)
        return [api.post("crmobject/person/find", {}).status_code for _ in range(16)]

    first, second = statuses(), statuses()

    assert first == second
    assert set(first) == {200, 500}


@pytest.mark.parametrize("changes", [{"error_rate": 2}, {"latency_ms": -1}, {"latency_ms": "5"},
                                     {"password": "x"}, {"no_such_setting": 1}])
def test_bad_settings_change_is_400(pg, changes):
    response = requests.post(f"{pg.base_url}/_sandbox/settings", json=changes, timeout=5)
    assert_error(response, 400, "invalid_settings")
    assert pg.settings()["error_rate"] == 0.0


def test_a_record_the_crm_breaks_on_always_faults_and_others_are_served(pg, soap, identity):
    from soap_helpers import envelope, payment, read_fault, unique_code

    poison, fine = unique_code("R"), unique_code("R")
    pg.set_faults(soap_fault_numbers=[poison])
    try:
        for _ in range(2):
            code, text = read_fault(soap.post("IPayment", "SavePayment", envelope("SavePayment",
                                                                                  payment(identity, poison))))
            assert code == "a:InternalServiceFault" and "internal error" in text
        assert soap.call("IPayment", "SavePayment", payment(identity, fine))["Success"] == "true"
        assert [r["number"] for r in pg.records("receipt") if r["number"] in (poison, fine)] == [fine]
    finally:
        pg.set_faults(soap_fault_numbers=[])
