"""Per-record outcomes: upsert semantics, bulk reads, problems and counts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from hamgam.ledger import Ledger, ProblemRecord, RecordState
from hamgam.ledger.models import SyncRecord


def row(ledger: Ledger, key: str, company: int = 1, entity: str = "identities"):
    with ledger.engine.connect() as conn:
        return conn.execute(select(SyncRecord).where(
            SyncRecord.company == company, SyncRecord.entity == entity, SyncRecord.tadbir_key == key)).one()


def test_first_outcome_creates_the_record(ledger, clock):
    ledger.record_outcome(1, "identities", "10255", status="synced", crm_id="c-1", crm_number="100-10255",
                          content_hash="h1")

    assert ledger.get(1, "identities", "10255") == RecordState(
        tadbir_key="10255", crm_id="c-1", crm_number="100-10255", content_hash="h1", status="synced",
        attempts=1, last_error=None)
    stored = row(ledger, "10255")
    assert stored.origin == "tadbir"
    assert stored.created_at == stored.updated_at == stored.synced_at == clock.now
    assert stored.created_at.tzinfo is UTC


def test_every_outcome_increments_attempts(ledger):
    for status in ("failed", "failed", "synced", "synced"):
        ledger.record_outcome(1, "identities", "10255", status=status)

    assert ledger.get(1, "identities", "10255").attempts == 4


def test_a_missing_crm_id_keeps_the_known_one(ledger):
    ledger.record_outcome(1, "identities", "10255", status="synced", crm_id="c-1", crm_number="100-10255",
                          content_hash="h1")
    ledger.record_outcome(1, "identities", "10255", status="failed", error="CRM 503")

    state = ledger.get(1, "identities", "10255")
    assert (state.crm_id, state.crm_number, state.content_hash) == ("c-1", "100-10255", "h1")

    ledger.record_outcome(1, "identities", "10255", status="synced", crm_id="c-2", content_hash="h2")
    state = ledger.get(1, "identities", "10255")
    assert (state.crm_id, state.crm_number, state.content_hash) == ("c-2", "100-10255", "h2")


def test_success_clears_the_error_and_a_failure_keeps_synced_at(ledger, clock):
    ledger.record_outcome(1, "identities", "10255", status="synced", crm_id="c-1")
    first_sync = clock.now
    clock.advance(60)
    ledger.record_outcome(1, "identities", "10255", status="rejected", error="CRM 400: bad phone",
                          error_details={"field": "phone", "value": "0912"})

    failed = row(ledger, "10255")
    assert (failed.status, failed.last_error) == ("rejected", "CRM 400: bad phone")
    assert failed.error_details == {"field": "phone", "value": "0912"}
    assert failed.synced_at == first_sync
    assert failed.updated_at == clock.now

    clock.advance(60)
    ledger.record_outcome(1, "identities", "10255", status="synced", error="ignored on success",
                          error_details={"ignored": True})

    synced = row(ledger, "10255")
    assert (synced.status, synced.last_error, synced.error_details) == ("synced", None, None)
    assert synced.synced_at == synced.updated_at == clock.now
    assert synced.created_at == first_sync


def test_no_error_details_is_sql_null(ledger):
    ledger.record_outcome(1, "identities", "10255", status="failed", error="timeout")

    with ledger.engine.connect() as conn:
        assert conn.execute(select(SyncRecord.id).where(SyncRecord.error_details.is_(None))).all()


def test_origin_is_where_the_record_was_born(ledger):
    ledger.record_outcome(1, "identities", "C-7", status="synced", crm_id="c-7", origin="crm")
    ledger.record_outcome(1, "identities", "C-7", status="synced", content_hash="h2")

    assert ledger.get(1, "identities", "C-7").origin == "crm"
    assert ledger.records(1, "identities")["C-7"].origin == "crm"


def test_a_missing_crm_kind_keeps_the_known_one(ledger):
    ledger.record_outcome(1, "identities", "10255", status="synced", crm_id="c-1", crm_kind="person")
    ledger.record_outcome(1, "identities", "10255", status="failed", error="CRM 503")

    assert ledger.get(1, "identities", "10255").crm_kind == "person"
    ledger.record_outcome(1, "identities", "10255", status="synced", crm_kind="organization")
    assert ledger.records(1, "identities")["10255"].crm_kind == "organization"


@pytest.mark.parametrize(("key", "kwargs", "error"), [
    ("1", {"status": "done"}, ValueError),
    ("1", {"status": "synced", "origin": "excel"}, ValueError),
    (10255, {"status": "synced"}, TypeError),
    ("", {"status": "synced"}, TypeError),
])
def test_bad_outcomes_are_refused(ledger, key, kwargs, error):
    with pytest.raises(error):
        ledger.record_outcome(1, "identities", key, **kwargs)
    assert ledger.records(1, "identities") == {}


def test_records_reads_a_whole_scope_in_one_query(ledger):
    for key in ("1", "2", "3"):
        ledger.record_outcome(1, "identities", key, status="synced", content_hash=f"h{key}")
    ledger.record_outcome(2, "identities", "1", status="synced")
    ledger.record_outcome(1, "products", "1", status="synced")
    statements = []
    event.listen(ledger.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    records = ledger.records(1, "identities")

    assert sorted(records) == ["1", "2", "3"]
    assert records["2"].content_hash == "h2"
    queries = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's explicit BEGIN
    assert len(queries) == 1 and queries[0].startswith("SELECT")


def test_get_of_an_unknown_key_is_none(ledger):
    assert ledger.get(1, "identities", "nope") is None


def test_problems_lists_invalid_rejected_and_failed_with_details(ledger):
    ledger.record_outcome(1, "identities", "3", status="invalid", error="national code has 9 digits",
                          error_details={"expectation": "expect_column_value_lengths_to_equal",
                                         "values": {"national_code": "۰۱۲۳۴۵۶۷۸"}})
    ledger.record_outcome(1, "identities", "1", status="failed", error="CRM 503")
    ledger.record_outcome(1, "identities", "2", status="synced")
    ledger.record_outcome(1, "identities", "4", status="deleted")
    ledger.record_outcome(1, "products", "9", status="rejected", error="CRM 400",
                          error_details={"price": Decimal("12.50"), "on": datetime(2025, 1, 1, tzinfo=UTC)})
    ledger.record_outcome(2, "identities", "5", status="failed", error="CRM 500")

    problems = ledger.problems()
    assert [(p.company, p.entity, p.tadbir_key, p.status) for p in problems] == [
        (1, "identities", "1", "failed"), (1, "identities", "3", "invalid"),
        (1, "products", "9", "rejected"), (2, "identities", "5", "failed")]
    assert all(isinstance(p, ProblemRecord) and p.updated_at.tzinfo is UTC for p in problems)
    assert problems[1].last_error == "national code has 9 digits"
    assert problems[1].error_details["values"]["national_code"] == "۰۱۲۳۴۵۶۷۸"
    assert problems[2].error_details == {"price": "12.50", "on": "2025-01-01 00:00:00+00:00"}
    assert [p.tadbir_key for p in ledger.problems(company=1, entity="identities")] == ["1", "3"]
    assert [p.tadbir_key for p in ledger.problems(entity="identities")] == ["1", "3", "5"]
    assert [p.tadbir_key for p in ledger.problems(company=2)] == ["5"]


def test_counts_by_status(ledger):
    for key, status in [("1", "synced"), ("2", "synced"), ("3", "failed"), ("4", "deleted")]:
        ledger.record_outcome(1, "identities", key, status=status)
    ledger.record_outcome(1, "products", "1", status="synced")

    assert ledger.counts_by_status(1, "identities") == {"synced": 2, "failed": 1, "deleted": 1}
    assert ledger.counts_by_status(1, "quotes") == {}


def test_the_clock_must_be_timezone_aware(db_url):
    with Ledger.connect(db_url, clock=lambda: datetime(2025, 1, 1)) as ledger:
        with pytest.raises(ValueError, match="timezone-aware"):
            ledger.record_outcome(1, "identities", "1", status="synced")
