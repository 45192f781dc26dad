"""Event-driven runs under a real Airflow (scheduler, DAG processor, triggerer, API server) on the demo data.

No cron here (``sync.schedule`` off) and nobody triggers anything: every run is started by a probe in the
triggerer. A save in Tadbir reaches the CRM; a new customer and its first invoice saved in one transaction
both arrive, the invoice naming the customer, and no run fails on the other's lease; inserts, edits, line
edits and deletes of documents all arrive; a burst of 1,000 saves makes a handful of runs, not hundreds;
the triggerer stays healthy throughout. Waits are for conditions (generous deadlines); times go to
benchmarks/bench_freshness.py, not to assertions.
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from hamgam.tadbir import schema
from hamgam_dev.freshness import Finance, burst, event_world

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ARRIVAL_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with event_world(tmp_path_factory.mktemp("event-driven"), settings={"schedule": None}) as opened:
        yield opened


@pytest.fixture
def finance(world) -> Finance:
    return Finance(world)


def wait_arrived(world, *changes) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    pending = list(changes)
    while pending:
        kinds = sorted({k for c in pending for k in c.crm_kinds})
        records = world.sandbox.records(*kinds)
        pending = [c for c in pending if not c.arrived([r for r in records if r.get("kind") in c.crm_kinds])]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not in the CRM after {ARRIVAL_TIMEOUT:.0f} s: {[c.label for c in pending]}\n"
                                 f"{world.server.log_tail()}")
        world.server._check_alive()
        time.sleep(0.2)


def run_types(world) -> set[str]:
    return {run["run_type"] for entity in ("identities", "sales_invoices", "quotes", "receipts", "payments",
                                           "products", "sales_returns") for run in world.runs(entity)}


def test_the_first_probe_of_each_watcher_started_the_initial_sync(world):
    assert run_types(world) == {"asset_triggered"}
    assert world.failed_runs() == []
    assert len(world.sandbox.records("person", "organization", "sales_invoice")) > 0


def test_a_save_in_tadbir_reaches_the_crm_with_nobody_triggering_anything(world, finance):
    before = {r["dag_run_id"] for r in world.runs("identities")}
    change = finance.edit_customer(100)
    change.apply()
    wait_arrived(world, change)
    new_runs = [r for r in world.runs("identities") if r["dag_run_id"] not in before]
    assert new_runs and {r["run_type"] for r in new_runs} == {"asset_triggered"}
    assert run_types(world) == {"asset_triggered"}  # no cron, no manual trigger: only the probes


def test_a_new_customer_and_its_first_invoice_saved_together_both_arrive(world, finance):
    started = time.time()
    customer, row = finance.new_customer(200)
    invoice = finance.new_invoice(200, customer_id=row["Id"])
    with world.tadbir[200].begin() as conn:  # one transaction, as Tadbir saves a new customer with its invoice
        conn.execute(schema.customer.insert(), [row])
        invoice.apply(conn)
    wait_arrived(world, customer, invoice)
    crm_customer = next(r for r in world.sandbox.records("person", "organization")
                        if r.get("customerNumber") == f"200-{row['SubscriptionNo']}")
    number = invoice.label.split()[2]
    crm_invoice = next(r for r in world.sandbox.records("sales_invoice") if r["number"] == number)
    assert crm_invoice["identityId"] == crm_customer["crmId"]
    world.settle()
    # whichever DAG got there first, neither failed on the other's lease (identities waits for the
    # invoice load's reference sync), and the customer is in the CRM once
    assert world.failed_runs(since=started) == []
    assert [r.get("customerNumber") for r in world.sandbox.records("person", "organization")].count(
        f"200-{row['SubscriptionNo']}") == 1


def test_inserts_edits_line_edits_and_deletes_of_documents_all_arrive(world, finance):
    changes = [finance.new_invoice(100), finance.edit_line(100), finance.edit_document(200, "quotes"),
               finance.delete_invoice(200), finance.new_receipt(100), finance.delete_payment(200),
               finance.edit_product(100)]
    for change in changes:  # saved in a row: runs busy with one change pick up the next ones after it
        change.apply()
    wait_arrived(world, *changes)


def test_a_burst_of_a_thousand_saves_makes_a_few_runs_not_hundreds(world):
    result = burst(world, saves=1000, company=100)
    assert 1 <= result["runs"] <= 10, result  # one probe a second sees the burst a few times at most
    assert result["run_types"] == ["asset_triggered"] and result["failed"] == []


def test_the_triggerer_stayed_healthy_and_no_probe_failed(world):
    health = world.server.api("GET", "/monitor/health")
    assert health["triggerer"]["status"] == "healthy"
    log = (world.server.log_dir / "triggerer.log").read_text(errors="replace")
    assert "probe of identities of company 100 is watching" in log
    assert "Trigger runner failed" not in log and "Trigger failed" not in log
    # No probe failed, but for a lock wait on the demo's SQLite Tadbir while the burst above wrote to it
    # (seen on a loaded machine; SQL Server readers do not meet it): such a probe must have answered again.
    failures = re.findall(r"probe of (\w+) of company (\d+) failed \(([^)]*)\)", log)
    assert all("database is locked" in reason for _, _, reason in failures), failures
    for entity, company, _ in failures:
        assert f"probe of {entity} of company {company} answers again" in log, (entity, company)
    assert len(world.triggerer_pids()) >= 1
    assert isinstance(world.tadbir[100], sa.Engine)
