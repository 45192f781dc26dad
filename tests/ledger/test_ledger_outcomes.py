"""The outcome log: a run's counts come from every outcome it wrote, over all its tries (issue 8, defect 11)."""

from __future__ import annotations

import pytest

from hamgam.ledger import COUNT_NAMES

DAG = "tadbir_to_payamgostar__identities"
INVOICES_DAG = "tadbir_to_payamgostar__sales_invoices"


def counts(**given: int) -> dict[str, int]:
    return {**dict.fromkeys(COUNT_NAMES, 0), **given}


def synced(ledger, key: str, crm_id: str | None = None, entity: str = "identities", company: int = 1) -> None:
    ledger.record_outcome(company, entity, key, status="synced", crm_id=crm_id or f"crm-{key}",
                          content_hash=f"h-{key}")


def test_a_run_counts_the_outcomes_of_every_try(ledger, clock):
    run_pk = ledger.start_run(DAG, "manual__1", 1, "identities", stage="detect")
    ledger.set_stage(run_pk, "load")
    with ledger.attribute(run_pk, f"{DAG}/manual__1/identities.load/0/1"):
        for n in range(42):
            synced(ledger, f"c{n:03d}")
        ledger.record_outcome(1, "identities", "c042", status="failed", error="CRM 503")
    # the first try was killed; the retry finishes the queue
    with ledger.attribute(run_pk, f"{DAG}/manual__1/identities.load/0/2"):
        for n in range(42, 100):
            synced(ledger, f"c{n:03d}")

    assert ledger.run_counts(run_pk) == counts(created=100)
    assert {row.holder for row in ledger.outcome_log(run_pk)} == {
        f"{DAG}/manual__1/identities.load/0/1", f"{DAG}/manual__1/identities.load/0/2"}


def test_a_record_created_by_one_try_and_sent_again_by_the_retry_is_one_create(ledger):
    run_pk = ledger.start_run(DAG, "manual__1", 1, "identities")
    with ledger.attribute(run_pk, "try-1"):
        synced(ledger, "k1")  # created in the CRM; the try died before taking k1 off the queue
    with ledger.attribute(run_pk, "try-2"):
        synced(ledger, "k1")  # the retry sends it again: an update of the record the first try made

    assert ledger.run_counts(run_pk) == counts(created=1)


def test_updates_deletes_and_recreates(ledger):
    for key in ("u1", "u2", "d1", "r1"):
        synced(ledger, key)
    ledger.record_outcome(1, "identities", "r1", status="deleted")
    run_pk = ledger.start_run(DAG, "manual__2", 1, "identities")
    with ledger.attribute(run_pk, "try-1"):
        synced(ledger, "u1")
        synced(ledger, "u2")
        ledger.record_outcome(1, "identities", "d1", status="deleted")
        synced(ledger, "r1", crm_id="crm-r1-new")  # deleted in the CRM earlier, made again
        synced(ledger, "n1")

    assert ledger.run_counts(run_pk) == counts(created=2, updated=2, deleted=1)


def test_still_open_problems_are_counted_as_such_not_as_unchanged(ledger):
    for n in range(10):
        synced(ledger, f"ok{n}")
    for n in range(3):
        ledger.record_outcome(1, "identities", f"bad{n}", status="invalid", content_hash="h", error="name is empty")
    for n in range(2):
        ledger.record_outcome(1, "identities", f"rej{n}", status="rejected", content_hash="h", error="CRM said no")
    ledger.record_outcome(1, "identities", "skip0", status="skipped", content_hash="h", error="no lines")
    ledger.record_outcome(1, "identities", "fail0", status="failed", error="CRM 503")
    ledger.queue_changes(1, "identities", [("fail0", "upsert", "h2"), ("ok9", "upsert", "h3")], "manual__3")

    # a steady-state run: nothing changed in Tadbir, nothing written
    run_pk = ledger.start_run(DAG, "manual__3", 1, "identities")

    # the queued ok9 is not "unchanged": it is still to be sent
    assert ledger.run_counts(run_pk) == counts(unchanged=9, invalid=3, rejected=2, skipped=1, failed=1)
    assert len(ledger.problems(company=1, entity="identities")) == 3 + 2 + 1


def test_a_fiscal_year_run_counts_only_its_year(ledger):
    for key in ("1403/1", "1403/2", "1404/1"):
        synced(ledger, key, entity="sales_invoices")
    ledger.record_outcome(1, "sales_invoices", "1404/2", status="invalid", content_hash="h", error="totals differ")
    run_pk = ledger.start_run("tadbir_to_payamgostar__by_fiscal_year", "backfill__1", 1, "sales_invoices")

    assert ledger.run_counts(run_pk, key_prefix="1403/") == counts(unchanged=2)
    assert ledger.run_counts(run_pk, key_prefix="1404/") == counts(unchanged=1, invalid=1)


def test_references_synced_by_another_dag_count_for_the_entity_they_changed(ledger, clock):
    synced(ledger, "c1")
    identities_1 = ledger.start_run(DAG, "manual__1", 1, "identities")
    clock.advance(60)
    invoices = ledger.start_run(INVOICES_DAG, "manual__7", 1, "sales_invoices")
    with ledger.attribute(invoices, f"{INVOICES_DAG}/manual__7/sales_invoices.load/0/1"):
        synced(ledger, "1404/5", entity="sales_invoices")
        synced(ledger, "c1")  # a customer the invoice names, updated by the invoices' load
        synced(ledger, "c2")  # and one made for it
        ledger.record_outcome(1, "identities", "c3", status="invalid", content_hash="h", error="bad national code")
    clock.advance(60)
    identities_2 = ledger.start_run(DAG, "manual__2", 1, "identities")

    # the invoices' run counts its invoice only ...
    assert ledger.run_counts(invoices) == counts(created=1)
    # ... and says what it wrote elsewhere
    [made] = ledger.reference_writes(1, run_pk=invoices)
    assert (made.entity, made.counts["created"], made.counts["updated"], made.counts["invalid"]) == (
        "identities", 1, 1, 1)
    # the next identities report finds them, naming the run that made them, and only that one
    [via] = ledger.reference_writes(1, "identities", since=identities_1_started(ledger, identities_1),
                                    until=ledger.run(identities_2).started_at)
    assert (via.dag_id, via.run_id, via.via_entity) == (INVOICES_DAG, "manual__7", "sales_invoices")
    assert (via.counts["created"], via.counts["updated"], via.counts["invalid"]) == (1, 1, 1)
    assert ledger.reference_writes(1, "identities", since=ledger.run(identities_2).started_at) == []


def identities_1_started(ledger, run_pk: int):
    return ledger.run(run_pk).started_at


def test_outcomes_outside_a_run_are_logged_without_one(ledger):
    synced(ledger, "c1")
    [row] = ledger.outcome_log(company=1, entity="identities")
    assert (row.sync_run_id, row.holder, row.tadbir_key, row.outcome) == (None, None, "c1", "created")


# -- run stages: which task a run is at, and which one failed -------------------------------------

def test_a_run_moves_from_detect_to_load_and_a_failed_detect_is_recorded(ledger):
    run_pk = ledger.start_run(DAG, "manual__1", 200, "identities", stage="detect")
    assert ledger.find_run(DAG, "manual__1", 200, "identities").stage == "detect"
    ledger.finish_run(run_pk, "failed", {}, message="OperationalError: no such table: __FiscalPeriod__")

    failed = ledger.find_run(DAG, "manual__1", 200, "identities")
    assert (failed.id, failed.stage, failed.state, failed.message) == (
        run_pk, "detect", "failed", "OperationalError: no such table: __FiscalPeriod__")

    # detect's retry carries on in the same run record; then load takes it over
    ledger.set_stage(run_pk, "detect")
    assert ledger.find_run(DAG, "manual__1", 200, "identities").state == "running"
    ledger.set_stage(run_pk, "detected")
    ledger.set_stage(run_pk, "load")
    ledger.finish_run(run_pk, "success", {"created": 3})
    done = ledger.find_run(DAG, "manual__1", 200, "identities")
    assert (done.stage, done.state, done.created, done.message) == ("load", "success", 3, None)
    assert ledger.find_run(DAG, "manual__1", 100, "identities") is None


def test_stages_are_checked(ledger):
    with pytest.raises(ValueError, match="stage"):
        ledger.start_run(DAG, "manual__1", 1, "identities", stage="extract")
