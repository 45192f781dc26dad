"""The report a run ends with tells the truth about it (issue 8, defect 11): counts over all tries, open
problems counted as problems, references other DAGs synced, and which task failed with its error."""

from __future__ import annotations

import re

from hamgam.summary import entity_report, run_report

DAG = "tadbir_to_payamgostar__identities"
INVOICES_DAG = "tadbir_to_payamgostar__sales_invoices"


def row(text: str, company: int, state: str) -> list[str]:
    match = re.search(rf"^identities\s+{company}\s+{re.escape(state)}\s+(.*)$", text, re.MULTILINE)
    assert match, text
    return match.group(1).split()


def test_the_report_counts_every_try_and_open_problems(ledger):
    for n in range(5):
        ledger.record_outcome(100, "identities", f"bad{n}", status="invalid", content_hash="h", error=f"name {n} empty")
    run_pk = ledger.start_run(DAG, "manual__1", 100, "identities", stage="detect")
    ledger.set_stage(run_pk, "load")
    with ledger.attribute(run_pk, "try-1"):
        for n in range(42):
            ledger.record_outcome(100, "identities", f"c{n}", status="synced", crm_id=f"x{n}", content_hash="h")
    ledger.finish_run(run_pk, "failed", {"created": 42}, message="company 100: CRM 503")
    ledger.set_stage(run_pk, "load")
    with ledger.attribute(run_pk, "try-2"):
        for n in range(42, 100):
            ledger.record_outcome(100, "identities", f"c{n}", status="synced", crm_id=f"x{n}", content_hash="h")
    ledger.finish_run(run_pk, "success", {"created": 58})

    report = run_report(ledger, "identities", [100], run_id="manual__1", dag_id=DAG)

    assert report.failures == {}
    assert report.totals["created"] == 100 and report.totals["invalid"] == 5 and report.totals["unchanged"] == 0
    # created updated deleted unchanged invalid rejected failed skipped
    assert row(report.text, 100, "success") == ["100", "0", "0", "0", "5", "0", "0", "0"]
    assert "5 record(s) need attention" in report.text


def test_a_steady_state_run_does_not_count_invalid_records_as_unchanged(ledger):
    for n in range(7):
        ledger.record_outcome(100, "identities", f"c{n}", status="synced", crm_id=f"x{n}", content_hash="h")
    for n in range(16):
        ledger.record_outcome(100, "identities", f"bad{n}", status="invalid", content_hash="h", error="postal code")
    run_pk = ledger.start_run(DAG, "manual__2", 100, "identities", stage="detect")
    ledger.set_stage(run_pk, "load")
    ledger.finish_run(run_pk, "success", {"unchanged": 23})  # what the try counted: every record "unchanged"

    text, totals, unfinished = entity_report(ledger, "identities", [100], run_id="manual__2", dag_id=DAG)

    assert unfinished == []
    assert (totals["unchanged"], totals["invalid"]) == (7, 16)
    assert "16 record(s) need attention" in text


def test_a_failed_detect_is_named_with_its_task_company_and_error(ledger):
    ok = ledger.start_run(DAG, "manual__3", 100, "identities", stage="detect")
    ledger.set_stage(ok, "load")
    ledger.finish_run(ok, "success", {})
    broken = ledger.start_run(DAG, "manual__3", 200, "identities", stage="detect")
    ledger.finish_run(broken, "failed", {}, message="OperationalError: no such table: __FiscalPeriod__")

    report = run_report(ledger, "identities", [100, 200], run_id="manual__3", dag_id=DAG)

    assert list(report.failures) == [200]
    message = report.failures[200]
    assert "identities.detect" in message and "company 200" in message
    assert "no such table: __FiscalPeriod__" in message
    assert "load" not in message
    assert row(report.text, 200, "detect failed") == ["-"] * 8
    assert "identities.detect" in report.text


def test_a_failed_load_and_a_load_that_never_finished_are_named(ledger):
    failed = ledger.start_run(DAG, "manual__4", 100, "identities", stage="detect")
    ledger.set_stage(failed, "load")
    ledger.finish_run(failed, "failed", {}, message="identities company 100: 3 record(s) could not reach the CRM")
    killed = ledger.start_run(DAG, "manual__4", 200, "identities", stage="detect")
    ledger.set_stage(killed, "load")  # its worker died: the run record stays "running"

    report = run_report(ledger, "identities", [100, 200, 300], run_id="manual__4", dag_id=DAG)

    assert "task identities.load (company 100) failed" in report.failures[100]
    assert "could not reach the CRM" in report.failures[100]
    assert "task identities.load (company 200) did not finish" in report.failures[200]
    assert "identities.detect (company 300)" in report.failures[300] and "no run" in report.failures[300]


def test_the_report_shows_what_other_dags_synced_as_references(ledger, clock):
    for n in range(3):
        ledger.record_outcome(100, "identities", f"c{n}", status="synced", crm_id=f"x{n}", content_hash="h")
    first = ledger.start_run(DAG, "manual__5", 100, "identities")
    ledger.finish_run(first, "success", {})
    clock.advance(60)
    invoices = ledger.start_run(INVOICES_DAG, "scheduled__9", 100, "sales_invoices")
    with ledger.attribute(invoices, "invoices-try-1:references"):
        for n in range(3):  # 3 identities updated while the invoices' load synced what they name
            ledger.record_outcome(100, "identities", f"c{n}", status="synced", crm_id=f"x{n}", content_hash="h2")
        ledger.record_outcome(100, "identities", "c9", status="synced", crm_id="x9", content_hash="h")
    ledger.finish_run(invoices, "success", {})
    clock.advance(60)
    second = ledger.start_run(DAG, "manual__6", 100, "identities")
    ledger.finish_run(second, "success", {})

    report = run_report(ledger, "identities", [100], run_id="manual__6", dag_id=DAG)

    assert report.totals["updated"] == 0  # this run itself wrote nothing ...
    assert row(report.text, 100, "via references") == ["1", "3", "0", "-", "0", "0", "0", "0"]
    assert f"{INVOICES_DAG} run scheduled__9" in report.text
    assert report.totals["via_references"] == {"created": 1, "updated": 3}
    # ... and the invoices' own report says what it synced for identities
    invoices_text = run_report(ledger, "sales_invoices", [100], run_id="scheduled__9", dag_id=INVOICES_DAG).text
    assert re.search(r"identities: 1 created, 3 updated", invoices_text), invoices_text
    # the report after that one does not show them again
    third = ledger.start_run(DAG, "manual__7", 100, "identities")
    ledger.finish_run(third, "success", {})
    assert "via references" not in run_report(ledger, "identities", [100], run_id="manual__7", dag_id=DAG).text
