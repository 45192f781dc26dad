"""Identities, Tadbir → Payamgostar, end to end through Airflow's dag.test() and the real sandbox.

The tests of this module share one world and run in order: first sync, no-change rerun, an edit, a
delete, then a CRM outage that must alert by e-mail.
"""

from __future__ import annotations

import pytest
from e2e_world import task_states

from hamgam.transform.text import normalize_code

pytestmark = pytest.mark.airflow

DAG = "tadbir_to_payamgostar__identities"


def dirty_ids(world, company: int, case: str) -> list[int]:
    return world.built["companies"][company]["dirty_customer_ids"][case]


def customer_code(world, company: int, row_id: int) -> str:
    with world.tadbir(company) as conn:
        return conn.execute("SELECT SubscriptionNo FROM __Customer__ WHERE Id = ? AND FPId = ?",
                            (row_id, world.current_period(company))).fetchone()[0]


def live_customers(world, company: int) -> int:
    with world.tadbir(company) as conn:
        return conn.execute("SELECT COUNT(*) FROM __Customer__ WHERE FPId = ?",
                            (world.current_period(company),)).fetchone()[0]


def test_first_run_syncs_both_companies_and_sets_dirty_rows_aside(world):
    run = world.run()
    assert run.state == "success"

    crm = world.crm()
    ledger = world.ledger()
    for company in (100, 200):
        problems = {p.tadbir_key: p for p in ledger.problems(company=company, entity="identities")}
        synced = ledger.counts_by_status(company, "identities").get("synced", 0)
        assert synced > 100
        assert sum(number.startswith(f"{company}-") for number in crm) == synced
        # every live Tadbir customer is either in the CRM or set aside with a reason
        collisions = dirty_ids(world, company, "subscription_no_collision")
        assert synced + len(problems) == live_customers(world, company) - len(collisions) // 2

        reasons = " | ".join(p.last_error for p in problems.values())
        assert "customer code (SubscriptionNo) is empty" in reasons
        assert "more than one customer" in reasons
        assert "fails its checksum" in reasons
        assert "postal code must have exactly 10 digits" in reasons
        assert "name is empty" in reasons
        for row_id in collisions:  # a colliding code is never guessed at
            assert f"{company}-{normalize_code(customer_code(world, company, row_id))}" not in crm

    # Saman and Persian digits in a customer code become the ASCII customer number
    saman_id = dirty_ids(world, 100, "saman_digits_in_subscription_no")[0]
    code = normalize_code(customer_code(world, 100, saman_id))
    assert code.isascii() and code.isdigit()
    assert f"100-{code}" in crm
    # several numbers in one phone field become several phones
    multi = [crm[f"100-{normalize_code(customer_code(world, 100, i))}"]
             for i in dirty_ids(world, 100, "multiple_phone_numbers")]
    assert max(len(r["phoneContacts"]) for r in multi) >= 3
    # Arabic yeh and kaf are stored as Persian letters
    assert not any("ي" in (r.get("nickName") or "") or "ك" in (r.get("nickName") or "") for r in crm.values())

    # the report counts what the run did, from the ledger; each try wrote under a lease of its own
    report = world.report("identities", run)
    assert report.failures == {}
    assert report.totals["created"] == len(crm)
    for company, index in ((100, 0), (200, 1)):
        holders = {row.holder for row in ledger.outcome_log(company=company, entity="identities")}
        assert f"{DAG}/{run.run_id}/identities.load/{index}/1" in holders


def test_second_run_over_unchanged_data_makes_no_write_calls(world):
    world.sandbox.reset_stats()
    run = world.run()
    assert run.state == "success"
    assert world.writes() == 0
    assert world.calls("person/create") == world.calls("organization/create") == 0

    # a steady state: what is in step is unchanged, what still needs attention is counted as such
    ledger = world.ledger()
    report = world.report("identities", run)
    problems = [p for company in (100, 200) for p in ledger.problems(company=company, entity="identities")]
    assert problems
    assert report.totals["invalid"] + report.totals["rejected"] + report.totals["failed"] == len(problems)
    assert report.totals["unchanged"] == sum(ledger.counts_by_status(c, "identities")["synced"] for c in (100, 200))
    assert report.totals["created"] == report.totals["updated"] == report.totals["deleted"] == 0
    assert f"{len(problems)} record(s) need attention" in report.text


def _one_clean_customer(world, company: int) -> tuple[int, str]:
    dirty = {i for ids in world.built["companies"][company]["dirty_customer_ids"].values() for i in ids}
    with world.tadbir(company) as conn:
        rows = conn.execute("SELECT Id, SubscriptionNo FROM __Customer__ WHERE FPId = ? ORDER BY Id",
                            (world.current_period(company),)).fetchall()
    row_id, code = next((i, c) for i, c in rows if i not in dirty and c.isdigit())
    return row_id, code


def test_an_edit_in_tadbir_is_exactly_one_update(world):
    row_id, code = _one_clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Name = ? WHERE Id = ? AND FPId = ?",
                     ("شرکت ویرایش‌شده نمونه", row_id, world.current_period(100)))
    world.sandbox.reset_stats()
    assert world.run().state == "success"
    updates = world.calls("person/update") + world.calls("organization/update")
    assert updates == 1
    assert world.writes() == 1
    calls = {name: n for name, n in world.sandbox.stats()["calls"].items() if name != "auth/login"}
    assert sum(calls.values()) == 1, calls  # straight to the stored id: no look-up first
    assert world.crm()[f"100-{code}"]["nickName"] == "شرکت ویرایش‌شده نمونه"


def test_a_delete_in_tadbir_is_exactly_one_delete(world):
    row_id, code = _one_clean_customer(world, 200)
    assert f"200-{code}" in world.crm()
    with world.tadbir(200) as conn:
        conn.execute("DELETE FROM __Customer__ WHERE Id = ? AND FPId = ?", (row_id, world.current_period(200)))
    world.sandbox.reset_stats()
    assert world.run().state == "success"
    assert world.calls("person/delete") + world.calls("organization/delete") == 1
    assert world.writes() == 1
    assert f"200-{code}" not in world.crm()
    assert world.ledger().get(200, "identities", code).status == "deleted"


def test_a_crm_outage_fails_the_run_keeps_the_work_queued_and_emails_the_team(world, smtp):
    row_id, code = _one_clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Address = ? WHERE Id = ? AND FPId = ?",
                     ("تهران، خیابان آزادی، پلاک ۱۲", row_id, world.current_period(100)))
    smtp.messages.clear()
    smtp.arrived.clear()
    world.sandbox.set_faults(error_rate=1.0)
    try:
        run = world.run()
    finally:
        world.sandbox.clear_faults()
    assert run.state == "failed"
    assert smtp.arrived.wait(10), "no failure e-mail arrived"
    message = smtp.messages[0]
    assert message["To"] == "finance-data@example.com"
    assert "tadbir_to_payamgostar__identities" in message["Subject"] and "failed" in message["Subject"]
    assert "could not reach the CRM" in message.get_body().get_content()
    assert world.ledger().get(100, "identities", code).status == "failed"

    # the CRM is back: the next run delivers exactly the queued edit
    world.sandbox.reset_stats()
    assert world.run().state == "success"
    assert world.writes() == 1
    assert world.ledger().get(100, "identities", code).status == "synced"


def test_a_broken_tadbir_in_one_company_does_not_stop_the_other(world, tmp_path):
    """Company 200's connection points at an empty database: its detect fails, company 100's edit still
    reaches the CRM, and the run is red with the report naming the failed task and its error."""
    from hamgam import tasks
    from hamgam.pipeline import SyncError

    row_id, code = _one_clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Name = ? WHERE Id = ? AND FPId = ?",
                     ("شرکت مستقل از شرکت دیگر", row_id, world.current_period(100)))
    world.sandbox.reset_stats()
    with world.tadbir_connection(200, tmp_path / "no_tadbir_here.sqlite"):
        run = world.run()

    assert run.state == "failed"
    assert world.crm()[f"100-{code}"]["nickName"] == "شرکت مستقل از شرکت دیگر"
    assert world.writes() == 1
    states = task_states(run)
    assert states[("identities.detect", 0)] == states[("identities.load", 0)] == "success"
    assert states[("identities.detect", 1)] == "failed"
    assert states[("identities.load", 1)] == "upstream_failed"
    assert states[("report", -1)] == "failed"

    failure = world.ledger().find_run(DAG, run.run_id, 200, "identities")
    assert (failure.stage, failure.state) == ("detect", "failed")
    assert "company 200 identities: Tadbir has no table __Customer__ (connection 'tadbir_200')" in failure.message
    report = world.report("identities", run)
    assert list(report.failures) == [200]
    assert "task identities.detect (company 200) failed" in report.failures[200]
    assert "Tadbir has no table __Customer__" in report.failures[200]
    with pytest.raises(SyncError) as caught:  # what the report task raised
        tasks.report("identities", run_id=run.run_id, dag_id=DAG)
    assert "identities.detect (company 200)" in str(caught.value) and "Tadbir has no table __Customer__" in str(caught.value)
    assert "load task" not in str(caught.value)

    # with its Tadbir back, company 200 is in step again
    assert world.run().state == "success"
