"""The ``dry_run`` trigger param of the forward DAGs, through Airflow's ``dag.test()`` against the real sandbox:
on a fresh demo world a dry run of each forward DAG reports the counts a real first run then produces, with
no CRM write and the ledger's sync state untouched."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hamgam.dagbuilder import LAYERS

pytestmark = [pytest.mark.airflow, pytest.mark.slow]  # every forward DAG over a fresh demo world (about a minute): make test-slow

FORWARD = [entity for layer in LAYERS for entity in layer]
COMPARED = ("created", "updated", "deleted", "invalid", "rejected", "skipped", "unchanged")
WRITE_CALL = re.compile(r"save|create|update|delete", re.IGNORECASE)


def report_value(dag_run) -> Any:
    """What the run's ``report`` task returned (its XCom)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(select(XComModel).where(
            XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id,
            XComModel.task_id == "report", XComModel.key == "return_value")).one()
        return XComModel.deserialize_value(row)


def write_calls(world) -> dict[str, int]:
    return {name: n for name, n in world.sandbox.stats()["calls"].items() if WRITE_CALL.search(name)}


def test_a_dry_run_of_every_forward_dag_foretells_the_first_real_run_and_writes_nothing(world):
    from hamgam.dry_run import sync_state

    ledger = world.ledger()
    state_before = sync_state(ledger)
    assert world.writes() == 0 and not write_calls(world)
    foretold: dict[str, dict[str, Any]] = {}
    for entity in FORWARD:
        dag_run = world.run_entity(entity, dry_run=True)
        assert dag_run.state == "success", f"{entity}: the dry run ended {dag_run.state}"
        value = report_value(dag_run)[entity]
        assert value["dry_run"] is True
        foretold[entity] = value
        assert world.writes() == 0, f"{entity}: the dry run wrote to the CRM: {write_calls(world)}"
        assert not write_calls(world), f"{entity}: the dry run called a CRM write: {write_calls(world)}"
        assert sync_state(ledger) == state_before, f"{entity}: the dry run moved the ledger's sync state"
    # the demo world has something of each: records to create, and dirty ones to set aside
    assert all(foretold[e]["counts"]["created"] > 0 for e in FORWARD), {e: v["counts"] for e, v in foretold.items()}
    assert foretold["sales_invoices"]["counts"]["invalid"] > 0 and foretold["sales_invoices"]["counts"]["skipped"] > 0
    # the finds that decide create / update / adopt did reach the CRM
    assert sum(world.sandbox.stats()["calls"].values()) > 0

    for entity in FORWARD:
        dag_run = world.run_entity(entity)
        assert dag_run.state == "success", f"{entity}: the real run ended {dag_run.state}"
        real = world.report(entity, dag_run).totals
        dry = foretold[entity]["counts"]
        assert {name: dry.get(name, 0) for name in COMPARED} == {name: real[name] for name in COMPARED}, entity
        plan_counts: dict[str, int] = {}
        for company in foretold[entity]["companies"]:
            for kind, n in company["plan"]["counts"].items():
                plan_counts[kind] = plan_counts.get(kind, 0) + n
        assert plan_counts["create"] == real["created"], entity
        assert plan_counts["set_aside"] == real["invalid"] + real["rejected"] + real["skipped"], entity
    assert world.writes() > 0  # the real runs wrote: the counter the dry runs left at zero does count


def test_a_dry_run_after_a_sync_foretells_an_edit_and_a_delete(world):
    """After the first pass (above): an edited customer would be updated, a deleted one deleted, nothing sent."""
    from hamgam.dry_run import sync_state

    fp = world.current_period(100)
    synced = sorted(k for k, s in world.ledger().records(100, "identities").items() if s.status == "synced")
    edited, gone = synced[:2]
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Name = ? WHERE SubscriptionNo = ? AND FPId = ?",
                     ("شرکت ویرایش‌شده در اجرای آزمایشی", edited, fp))
        conn.execute("DELETE FROM __Customer__ WHERE SubscriptionNo = ? AND FPId = ?", (gone, fp))
    ledger = world.ledger()
    state_before, writes_before = sync_state(ledger), world.writes()
    dag_run = world.run_entity("identities", dry_run=True)
    assert dag_run.state == "success"
    value = report_value(dag_run)["identities"]
    assert world.writes() == writes_before and sync_state(ledger) == state_before
    company = next(c for c in value["companies"] if c["company"] == 100)
    assert company["plan"]["update"] == [edited] and company["plan"]["delete"] == [gone], company["plan"]

    dag_run = world.run_entity("identities")
    assert dag_run.state == "success"
    real = world.report("identities", dag_run).totals
    assert (real["updated"], real["deleted"]) == (1, 1) == (value["counts"]["updated"], value["counts"]["deleted"])


def test_a_dry_full_resync_of_a_fiscal_year_foretells_every_update_and_sends_none(world):
    """The by-fiscal-year DAG takes the param too: 'transfer all' of 1404 as a dry run sends nothing."""
    import pendulum

    from hamgam.config import load_config
    from hamgam.dagbuilder import by_fiscal_year_dag
    from hamgam.dry_run import sync_state

    ledger = world.ledger()
    state_before, writes_before = sync_state(ledger), world.writes()
    dag_run = by_fiscal_year_dag(load_config()).test(
        logical_date=pendulum.datetime(2025, 3, 21, tz="Asia/Tehran"), run_conf={"dry_run": True, "full_resync": True})
    assert dag_run.state == "success"
    assert world.writes() == writes_before and sync_state(ledger) == state_before
    invoices = report_value(dag_run)["sales_invoices"]
    synced_1404 = {(c, k) for c in (100, 200) for k, s in ledger.records(c, "sales_invoices").items()
                   if s.status == "synced" and k.startswith("1404/")}
    updated = {(c["company"], k) for c in invoices["companies"] for k in c["plan"]["update"]}
    aside = {(c["company"], a["key"]): a for c in invoices["companies"] for a in c["plan"]["set_aside"]}
    # every synced invoice of 1404 would be sent again, but for those set aside now
    assert updated and updated == synced_1404 - set(aside), [aside[k] for k in synced_1404 & set(aside)]
    assert invoices["counts"]["updated"] == len(updated)
    # (those of the customer deleted in Tadbir above)
    assert all("customer not found in Tadbir" in aside[k]["reason"]
               for k in synced_1404 & set(aside)), [aside[k] for k in synced_1404 & set(aside)]
