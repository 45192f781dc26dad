"""The drift report of ``hamgam_drift_report``, through Airflow's ``dag.test()`` against the real sandbox: after a
forward pass of the demo world it shows no unexplained difference; a record deleted by hand in the CRM (through
its API) is named, with its company, entity and fiscal year, and the run fails."""

from __future__ import annotations

import pytest

from hamgam.dagbuilder import LAYERS

pytestmark = [pytest.mark.airflow, pytest.mark.slow]  # forward passes and drift runs over the demo world (about a minute): make test-slow

FORWARD = [entity for layer in LAYERS for entity in layer]


def run_drift_report(world):
    from hamgam.config import load_config
    from hamgam.dagbuilder import drift_report_dag

    return drift_report_dag(load_config()).test()


def latest(world):
    from hamgam.drift import latest_drift_report

    return latest_drift_report(world.ledger())


def rows_by(report, company: int, entity: str) -> list[dict]:
    return [r for r in report["rows"] if r["company"] == company and r["entity"] == entity]


@pytest.fixture(scope="module")
def synced_world(world):
    for entity in FORWARD:
        assert world.run_entity(entity).state == "success", entity
    return world


def test_after_a_forward_pass_the_report_shows_no_unexplained_difference(synced_world, smtp):
    world = synced_world
    assert latest(world) is None
    dag_run = run_drift_report(world)
    assert dag_run.state == "success"
    report = latest(world)
    assert report is not None and report["run_id"] == dag_run.run_id and report["unexplained"] == 0
    # every company, entity and fiscal year in Tadbir has its row; documents by year, master data as one
    invoices = rows_by(report, 100, "sales_invoices")
    assert sorted(r["fiscal_year"] for r in invoices) == [1403, 1404]
    assert [r["fiscal_year"] for r in rows_by(report, 100, "identities")] == [None]
    for row in report["rows"]:
        assert row["unexplained"] == [], row
        explained = row["difference_counts"]["missing_in_crm"]
        # what is not in the CRM is exactly what the ledger set aside with a reason
        assert row["crm"]["count"] == row["tadbir"]["count"] - explained, row
        assert row["ledger"]["count"] == row["crm"]["count"], row
    # the sums come from both sides and agree where nothing is set aside
    for row in invoices:
        assert row["crm"]["amount"] is not None and row["crm"]["amount"] > 0
        if not row["difference_counts"]["missing_in_crm"]:
            assert row["crm"]["amount"] == row["tadbir"]["amount"]
    # the dirty demo invoices show as explained differences, each with the ledger's reason
    set_aside = [d for r in invoices for d in r["differences"]["missing_in_crm"]]
    assert set_aside and all(d["explained"] for d in set_aside)


def test_a_record_deleted_by_hand_in_the_crm_is_named_and_fails_the_run(synced_world, smtp):
    from airflow.utils.state import TaskInstanceState
    from e2e_world import task_states

    from hamgam.payamgostar.client import PayamgostarClient

    world = synced_world
    state = next(s for k, s in sorted(world.ledger().records(100, "sales_invoices").items())
                 if s.status == "synced" and k.startswith("1404/"))
    with PayamgostarClient(world.sandbox.base_url, world.sandbox.username, world.sandbox.password) as client:
        client.delete_sales_invoice(state.crm_id)
    smtp.messages.clear()
    smtp.arrived.clear()
    dag_run = run_drift_report(world)
    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("drift", -1)] == TaskInstanceState.FAILED
    assert {s for (task, _), s in states.items() if task != "drift"} == {TaskInstanceState.SUCCESS}
    report = latest(world)
    assert report["run_id"] == dag_run.run_id and report["unexplained"] == 1
    [row] = [r for r in rows_by(report, 100, "sales_invoices") if r["fiscal_year"] == 1404]
    assert row["unexplained"] == [state.tadbir_key]
    [missing] = [d for d in row["differences"]["missing_in_crm"] if d["explained"] is None]
    assert (missing["key"], missing["number"]) == (state.tadbir_key, state.crm_number)
    assert all(r["unexplained"] == [] for r in report["rows"] if r is not row)
    # the alert: the failure e-mail names company, entity, year and the record
    assert smtp.arrived.wait(10), "no alert e-mail arrived"
    assert any("company 100 sales_invoices fiscal year 1404" in m.get_body().get_content()
               and state.crm_number in m.get_body().get_content() for m in smtp.messages)
