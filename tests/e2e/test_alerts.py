"""Alerts a person can act on, through a real SMTP server (aiosmtpd) from real runs of the identities DAG
(``dag.test()``, the real sandbox): records newly set aside (once per change of that set), a failed task
naming its company and records, a company that recovers, a CRM staler than the threshold.

The tests of this module share one world and run in order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from e2e_world import Mailbox, World

pytestmark = pytest.mark.airflow

DAG = "tadbir_to_payamgostar__identities"
BASE_URL = "http://localhost:8080"


def received(smtp: Mailbox, run) -> list:
    """The e-mails that arrived while ``run`` ran (and cleared the mailbox before it)."""
    smtp.messages.clear()
    run()
    return list(smtp.messages)


def company(code: int) -> str:
    """How the e-mails name a company: its code and its name in the settings."""
    from hamgam.config import load_config

    return f"company {code} ({load_config().company(code).name})"


def subjects(messages: list) -> list[str]:
    return sorted(str(m["Subject"]) for m in messages)


def body(message) -> str:
    return message.get_body(preferencelist=("html", "plain")).get_content()


def set_aside_keys(world: World, company: int) -> set[str]:
    return {p.tadbir_key for p in world.ledger().problems(company=company, entity="identities",
                                                          statuses=("invalid", "rejected"))}


def test_records_set_aside_are_mailed_once_per_change_of_the_set(world, smtp):
    first = received(smtp, lambda: world.run())
    person = [m for m in first if "need a person" in str(m["Subject"])]
    assert subjects(person) == sorted(
        f"hamgam: {len(set_aside_keys(world, c))} new record(s) of identities of {company(c)} need a person"
        for c in (100, 200))
    mail = next(m for m in person if "company 100" in str(m["Subject"]))
    assert mail["To"] == "finance-data@example.com"
    text = body(mail)
    some_key = sorted(set_aside_keys(world, 100))[0]
    problem = world.ledger().get(100, "identities", some_key)
    assert some_key in text and problem.last_error.split(":")[0] in text  # the key and the report's reason
    assert f'href="{BASE_URL}/dags/{DAG}/runs/' in text and f'href="{BASE_URL}/hamgam/"' in text

    # the same set again: no e-mail
    again = received(smtp, lambda: world.run())
    assert not [m for m in again if "need a person" in str(m["Subject"])]

    # one more record set aside in company 100: one e-mail, naming only it
    row_id, code = _clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Name = '' WHERE Id = ? AND FPId = ?",
                     (row_id, world.current_period(100)))
    changed = received(smtp, lambda: world.run())
    person = [m for m in changed if "need a person" in str(m["Subject"])]
    assert subjects(person) == [f"hamgam: 1 new record(s) of identities of {company(100)} need a person"]
    assert code in body(person[0]) and some_key not in body(person[0])


def test_a_failed_task_names_its_company_and_a_recovery_is_mailed(world, smtp, tmp_path):
    with world.tadbir_connection(200, tmp_path / "no_tadbir_here.sqlite"):
        failed = received(smtp, lambda: world.run())
    failures = [m for m in failed if "failed" in str(m["Subject"])]
    assert failures, subjects(failed)
    mail = failures[0]
    assert str(mail["Subject"]).startswith(f"hamgam: identities {company(200)} failed: {DAG} / identities.detect "
                                           "(run manual__")
    text = body(mail)
    assert f"for <b>identities {company(200)}</b>" in text and "map index" not in text
    assert f'href="{BASE_URL}/dags/{DAG}/runs/' in text and f'href="{BASE_URL}/hamgam/"' in text
    assert not [m for m in failed if "recovered" in str(m["Subject"])]

    back = received(smtp, lambda: world.run())
    assert subjects([m for m in back if "recovered" in str(m["Subject"])]) == [
        f"hamgam: identities of {company(200)} recovered"]
    # recovered once: the next good run says nothing
    assert not [m for m in received(smtp, lambda: world.run()) if "recovered" in str(m["Subject"])]


def test_a_load_that_fails_names_the_records_it_could_not_send(world, smtp):
    row_id, code = _clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Address = ? WHERE Id = ? AND FPId = ?",
                     ("تهران، خیابان انقلاب، پلاک ۷", row_id, world.current_period(100)))
    world.sandbox.set_faults(error_rate=1.0)
    try:
        failed = received(smtp, lambda: world.run())
    finally:
        world.sandbox.clear_faults()
    mail = next(m for m in failed if str(m["Subject"]).startswith(f"hamgam: identities {company(100)} failed: "
                                                                  f"{DAG} / identities.load"))
    text = body(mail)
    assert "could not reach the CRM" in text and code in text
    assert world.ledger().get(100, "identities", code).status == "failed"
    assert received(smtp, lambda: world.run()) is not None  # the CRM is back: company 100 catches up


def test_a_crm_staler_than_the_threshold_is_mailed_once(world, smtp):
    from sqlalchemy import update

    from hamgam.ledger.models import SyncRun, utcnow

    ledger = world.ledger()
    with ledger.engine.begin() as conn:  # company 100's identities last synced three hours ago
        conn.execute(update(SyncRun).where(SyncRun.company == 100, SyncRun.entity == "identities")
                     .values(started_at=utcnow() - timedelta(hours=3)))
    world.sandbox.set_faults(error_rate=1.0)  # and the CRM refuses every call now: it cannot catch up
    row_id, _ = _clean_customer(world, 100)
    with world.tadbir(100) as conn:
        conn.execute("UPDATE __Customer__ SET Address = ? WHERE Id = ? AND FPId = ?",
                     ("شیراز، بلوار زند", row_id, world.current_period(100)))
    try:
        stale = received(smtp, lambda: world.run())
        assert subjects([m for m in stale if "behind" in str(m["Subject"])]) == [
            f"hamgam: the CRM is 180 minutes behind for identities of {company(100)}"]
        still = received(smtp, lambda: world.run())  # still stale: said once
        assert not [m for m in still if "behind" in str(m["Subject"])]
    finally:
        world.sandbox.clear_faults()
    fresh = received(smtp, lambda: world.run())
    assert not [m for m in fresh if "behind" in str(m["Subject"])]
    assert "recovered" in " ".join(subjects(fresh))
    assert world.ledger().get_cursor(100, "identities", "alert.stale") == "0"


def _clean_customer(world: World, company: int) -> tuple[int, str]:
    """A customer of the current period that is synced (its code is its key)."""
    ledger = world.ledger()
    with world.tadbir(company) as conn:
        rows = conn.execute("SELECT Id, SubscriptionNo FROM __Customer__ WHERE FPId = ? ORDER BY Id",
                            (world.current_period(company),)).fetchall()
    for row_id, code in rows:
        state = ledger.get(company, "identities", str(code))
        if state is not None and state.status == "synced":
            return row_id, str(code)
    raise AssertionError(f"no synced customer in company {company}")
