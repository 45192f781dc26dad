"""The identities load (detect + load, without Airflow) against bad answers from the real sandbox over HTTP:
a refused login stops the load with one AuthError and burns no record; an HTML page after a create leaves
the CRM's id in the ledger, never the page; an HTML page on the look-ups fails those records, not the load."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import Ledger
from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import AuthError
from hamgam.tadbir import schema
from pg_sandbox.testing import run_sandbox

SPEC = SPECS["identities"]
SETTINGS = """
companies: [{code: 100, tadbir_conn_id: tadbir_default, default: true}]
identities: {kind_policy: organization, category_key: zone0}
sync: {chunk_size: 50}
"""
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("load-answers") / "sandbox.sqlite") as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sandbox):
    sandbox.reset()
    sandbox.reset_stats()
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


@pytest.fixture
def tadbir(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tadbir.sqlite'}")
    schema.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert(), [{"Id": 1, "FPNo": 1404, "Name": "1404",
                                                      "StartDate": datetime(2025, 3, 21),
                                                      "EndDate": datetime(2026, 3, 20, 23, 59, 59)}])
        conn.execute(schema.customer.insert(), [{"Id": n, "FPId": 1, "SubscriptionNo": str(500 + n),
                                                 "Name": f"شرکت شماره {n}"} for n in range(1, 13)])
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(tmp_path):
    with Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as opened:
        yield opened


def client_for(sandbox, password: str | None = None) -> PayamgostarClient:
    return PayamgostarClient(sandbox.base_url, sandbox.username, password or sandbox.password, max_attempts=2,
                             max_workers=3, sleep=lambda _: None)


def sync(tadbir, ledger, client) -> dict:
    config = parse_config(SETTINGS)
    ctx = SyncContext(config, config.company(100))
    pipeline.detect(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r")
    return pipeline.load(SPEC, ctx, engine=tadbir, ledger=ledger, client=client, run_id="r")


def statuses(ledger) -> dict[str, str]:
    return {key: state.status for key, state in ledger.records(100, "identities").items()}


def test_a_refused_login_stops_the_load_with_one_auth_error_and_burns_no_record(tadbir, ledger, sandbox):
    with pytest.raises(AuthError, match="login refused: wrong user name or password"):
        sync(tadbir, ledger, client_for(sandbox, password="wrong"))

    assert not {"failed", "rejected"} & set(statuses(ledger).values())
    assert ledger.pending_count(100, "identities") == 12
    calls = sandbox.stats()["calls"]
    assert calls.get("auth/login") == 1 and calls.get("organization/find", 0) == 0

    assert sync(tadbir, ledger, client_for(sandbox))["created"] == 12  # fixed: every record goes through


def test_an_html_page_after_each_create_leaves_the_crm_ids_in_the_ledger(tadbir, ledger, sandbox):
    sandbox.set_faults(html_after_commit_rate=1.0)

    assert sync(tadbir, ledger, client_for(sandbox))["created"] == 12

    crm_ids = {r["customerNumber"]: r["crmId"] for r in sandbox.records("organization")}
    states = ledger.records(100, "identities")
    assert {f"100-{key}": state.crm_id for key, state in states.items()} == crm_ids
    assert all(GUID.match(crm_id) for crm_id in crm_ids.values())
    assert sandbox.stats()["calls"]["organization/create"] == 12


def test_an_html_page_on_the_lookups_fails_those_records_not_the_load(tadbir, ledger, sandbox):
    client = client_for(sandbox)
    client.login()
    sandbox.set_faults(html_page_rate=1.0)

    with pytest.raises(pipeline.SyncIncomplete, match="12 record"):
        sync(tadbir, ledger, client)

    states = ledger.records(100, "identities")
    assert {state.status for state in states.values()} == {"failed"}
    assert all("unexpected answer from crmobject/organization/find: not JSON (text/html, '<!DOCTYPE html>"
               in state.last_error for state in states.values())
    assert ledger.pending_count(100, "identities") == 12
