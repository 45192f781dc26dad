"""The two reverse DAGs through Airflow's own ``dag.test()``: payamgostar_to_tadbir__identities and
payamgostar_to_tadbir__quotes apply the webhook events waiting in the ledger to Tadbir."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow


def test_the_reverse_dags_apply_the_stored_webhook_events(airflow_db, world):
    from hamgam.config import load_config
    from hamgam.dagbuilder import reverse_dag

    person = world.create_person("200-20601", first="الهام", last="شجاعی")
    quote = world.save_quote("200-1404/9601", person, [("200-1001", 3, 210_000)])
    bad = world.save_quote("200-1403/9602", person)  # a closed fiscal year
    world.event("customer", person, "Insert", subtype="مخاطب حقیقی")
    for crm_id in (quote, bad):
        world.event("salequote", crm_id, "Insert", subtype="پیش فاکتور کالا")

    identities = reverse_dag("customer", load_config())
    assert identities.dag_id == "payamgostar_to_tadbir__identities"
    run = identities.test(run_conf={"sweep": False})
    assert run.state == "success"
    customer = world.customer(200, "20601")
    assert customer is not None and customer["Name"] == "الهام شجاعی"
    assert world.event_of(person).status == "done"

    quotes = reverse_dag("salequote", load_config())
    assert quotes.dag_id == "payamgostar_to_tadbir__quotes"
    run = quotes.test(run_conf={"sweep": False})
    assert run.state == "success"
    key = next(k for k, s in world.ledger().records(200, "quotes").items() if s.crm_id == quote)
    written = world.quotes(200)[int(key.partition("/")[2])]
    assert written["CustomerId"] == customer["Id"] and written["Total"] == 630_000
    [line] = world.lines(200, written["Id"])
    assert line["MerchandiseId"] == world.merchandise_id(200, "1001") and line["Amount"] == 3
    assert world.event_of(quote).status == "done"
    # a rejected quote fails its event, not the run
    assert world.event_of(bad).status == "failed"
    assert "quote 200-1403/9602" in world.event_of(bad).message
    assert world.crm_record("crm_quotes", bad).status == "rejected"
    assert world.ledger().pending_events("customer") == world.ledger().pending_events("salequote") == []
