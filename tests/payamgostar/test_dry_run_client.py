"""The dry-run client against the real sandbox over HTTP: reads reach the CRM, no write leaves the process,
and every write answers as a success would, so the caller carries on."""

import pytest

from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.dry_run import DRY_ID_PREFIX, DryRunClient
from pg_sandbox.testing import run_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("dry") / "sandbox.sqlite", seed=7) as running:
        yield running


def person(number: str) -> dict:
    return {"crmObjectTypeCode": "person", "firstName": "", "lastName": "مریم رضایی", "nickName": "مریم رضایی",
            "customerNumber": number}


def test_writes_are_withheld_and_answered_as_successes_while_reads_reach_the_crm(sandbox):
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password) as real:
        held = real.create_identity("person", person("100-900"))
        real.save_product({"Code": "P-900", "Name": "کالا", "UnitPrice": 1000})
    sandbox.reset_stats()
    with DryRunClient(sandbox.base_url, sandbox.username, sandbox.password) as dry:
        made = dry.create_identity("person", person("100-901"))
        assert made.startswith(DRY_ID_PREFIX)
        assert dry.update_identity("person", held, person("100-900")) == held
        dry.delete_identity("person", held)
        assert dry.find_identity_by_customer_number("100-900")[1]["crmId"] == held  # a read: sent
        assert dry.find_identity_by_customer_number("100-901") is None  # the create never left
        assert dry.save_product({"Code": "P-901", "Name": "کالا", "UnitPrice": 1}).startswith(DRY_ID_PREFIX)
        assert dry.delete_product_by_code("P-900") is True
        assert dry.find_product_by_code("P-900") is not None
        assert dry.writes_withheld() == 5
    stats = sandbox.stats()
    assert stats["writes"] == 0
    assert not [name for name in stats["calls"] if any(w in name.lower() for w in ("create", "update", "delete",
                                                                                    "save"))], stats["calls"]
