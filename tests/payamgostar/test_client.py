"""hamgam's Payamgostar client against the real sandbox over HTTP: auth, retries, errors, no duplicates."""

import pytest

from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import AuthError, GaveUp, NotFound, RecordRejected
from pg_sandbox.testing import run_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("client") / "sandbox.sqlite", seed=7) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.clear_faults()
    sandbox.reset()
    sandbox.reset_stats()
    yield
    sandbox.clear_faults()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:  # records the waits instead of sleeping through them
        self.append(seconds)


def make_client(sandbox, **kwargs) -> PayamgostarClient:
    kwargs.setdefault("sleep", Sleeps())
    return PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, **kwargs)


def person(number: str, name: str = "مریم رضایی") -> dict:
    return {"crmObjectTypeCode": "person", "firstName": "", "lastName": name, "nickName": name,
            "customerNumber": number, "phoneContacts": [{"phoneType": "موبایل", "phoneNumber": "09121234567",
                                                        "default": True}]}


def test_logs_in_once_and_reuses_the_token(sandbox):
    client = make_client(sandbox)
    crm_id = client.create_identity("person", person("100-1"), record="customer 100-1")
    assert client.get_identity("person", crm_id)["customerNumber"] == "100-1"
    assert client.find_identity_by_customer_number("100-1")[0] == "person"
    assert sandbox.stats()["calls"]["auth/login"] == 1


def test_wrong_password_is_a_clear_auth_error(sandbox):
    client = PayamgostarClient(sandbox.base_url, sandbox.username, "wrong", sleep=Sleeps())
    with pytest.raises(AuthError, match="wrong user name or password"):
        client.get_identity("person", "00000000-0000-0000-0000-000000000001")


def test_a_refused_token_is_renewed_once_and_the_call_goes_through(sandbox):
    client = make_client(sandbox)
    crm_id = client.create_identity("person", person("100-2"))
    sandbox.revoke_tokens()
    assert client.get_identity("person", crm_id)["crmId"] == crm_id
    assert sandbox.stats()["calls"]["auth/login"] == 2


def test_an_expiring_token_is_renewed_before_it_is_used(sandbox):
    sandbox.set_faults(token_ttl_seconds=30)
    client = make_client(sandbox, token_margin_seconds=60)  # every token is "about to expire"
    client.create_identity("person", person("100-3"))
    client.find_identity_by_customer_number("100-3", kinds=("person",))
    assert sandbox.stats()["calls"]["auth/login"] == 2
    assert sandbox.stats()["statuses"].get("401", 0) == 0


def test_rate_limit_waits_at_least_retry_after(sandbox):
    sandbox.set_faults(rate_limit_rate=0.5, retry_after_seconds=3, seed=11)
    sleeps = Sleeps()
    client = make_client(sandbox, sleep=sleeps, max_attempts=10)
    for n in range(6):
        client.create_identity("person", person(f"100-4{n}"))
    assert sandbox.stats()["faults"].get("rate_limited", 0) >= 1
    assert len(sleeps) == sandbox.stats()["faults"]["rate_limited"]
    assert all(wait >= 3 for wait in sleeps)


def test_server_errors_are_retried_with_growing_nonzero_backoff(sandbox):
    sandbox.set_faults(error_rate=1.0)
    sleeps = Sleeps()
    client = make_client(sandbox, sleep=sleeps, max_attempts=4, backoff_initial=0.5)
    with pytest.raises(GaveUp) as caught:
        client.search_identities("").__next__()
    assert "gave up after 4 attempts" in str(caught.value)
    assert len(sleeps) == 3 and all(wait > 0 for wait in sleeps)
    assert sleeps[2] > sleeps[0]
    assert sandbox.stats()["statuses"]["500"] == 4


def test_a_flaky_server_still_gets_every_record_once(sandbox):
    sandbox.set_faults(error_rate=0.3, seed=3)
    client = make_client(sandbox, max_attempts=10)
    for n in range(10):
        client.create_identity("person", person(f"100-5{n}"))
    numbers = sorted(r["customerNumber"] for r in sandbox.records())
    assert numbers == [f"100-5{n}" for n in range(10)]


def test_create_that_landed_before_a_500_is_not_sent_again(sandbox):
    sandbox.set_faults(error_after_commit_rate=1.0)
    client = make_client(sandbox)
    crm_id = client.create_identity("person", person("100-6"), record="customer 100-6")
    records = [r for r in sandbox.records() if r["customerNumber"] == "100-6"]
    assert [r["crmId"] for r in records] == [crm_id]
    assert sandbox.stats()["calls"]["person/create"] == 1


def test_rejected_record_names_the_record_and_the_reason(sandbox):
    client = make_client(sandbox)
    with pytest.raises(RecordRejected) as caught:
        client.create_identity("person", {"crmObjectTypeCode": "person", "lastName": "x", "phoneContacts": "x"},
                               record="customer 100-7")
    message = str(caught.value)
    assert message.startswith("customer 100-7: ") and "phoneContacts" in message
    assert caught.value.status == 400


def test_unknown_id_is_not_found(sandbox):
    client = make_client(sandbox)
    with pytest.raises(NotFound):
        client.get_identity("organization", "00000000-0000-0000-0000-000000000009")


def test_a_slow_server_times_out_and_gives_up(sandbox):
    sandbox.set_faults(slow_rate=1.0, slow_ms=1500)
    client = make_client(sandbox, timeout=(2.0, 0.5), max_attempts=2)
    with pytest.raises(GaveUp, match="did not answer in time"):
        client.search_identities("").__next__()


def test_concurrent_writes_are_bounded_and_complete(sandbox):
    client = make_client(sandbox, max_workers=4)
    results = list(client.map_concurrent(lambda n: client.create_identity("person", person(f"100-8{n:02d}")),
                                         range(20)))
    assert all(error is None for _, _, error in results)
    assert len({crm_id for _, crm_id, _ in results}) == 20
    assert sandbox.stats()["calls"]["person/create"] == 20
