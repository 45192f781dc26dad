"""Change capture: what each source reads, what it keeps in the ledger, how it falls back, and the reconcile."""

from __future__ import annotations

import logging
import sqlite3

import pytest
import sqlalchemy as sa
import yaml
from change_world import (
    FakeChangeTracking,
    add_document,
    context,
    fill_base,
    install_fake_change_tracking,
)

from hamgam import pipeline
from hamgam.config import ConfigError, parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import Ledger
from hamgam.ledger.detect_state import DetectState
from hamgam.tadbir import changes, schema
from hamgam.tadbir.sessions import TadbirBusy

SPEC = SPECS["sales_invoices"]


@pytest.fixture
def tadbir(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tadbir.sqlite'}")
    fill_base(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(tmp_path):
    with Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as opened:
        yield opened


def loaded(ledger, entity: str = "sales_invoices") -> None:
    """Record every queued change as a successful load would."""
    for p in ledger.pending(100, entity, limit=10_000):
        if p.action == "upsert":
            ledger.record_outcome(100, entity, p.tadbir_key, status="synced", crm_id="x", content_hash=p.content_hash)
        else:
            ledger.record_outcome(100, entity, p.tadbir_key, status="deleted")
        ledger.dequeue(100, entity, [p.tadbir_key])


def detect(tadbir, ledger, ctx=None, **options):
    return pipeline.detect(SPEC, ctx or context(checksum_range_size=10), engine=tadbir, ledger=ledger, run_id="r",
                           **options)


def many(tadbir, n: int = 35) -> list[int]:
    return [add_document(tadbir, "sales_invoices", i) for i in range(1, n + 1)]


def first_line(tadbir, doc: int) -> int:
    a = schema.sp_article
    with tadbir.connect() as conn:
        return conn.execute(sa.select(sa.func.min(a.c.Id)).where(a.c.SPId == doc, a.c.FPId == 2)).scalar_one()


def test_checksum_reads_nothing_when_nothing_changed_and_one_range_for_one_line(tadbir, ledger):
    docs = many(tadbir)
    first = detect(tadbir, ledger)
    assert (first["rows_read"], first["queued"], first["ranges_read"]) == (35, 35, 4)  # Ids 1-35, ranges of 10
    loaded(ledger)
    again = detect(tadbir, ledger)
    assert (again["rows_read"], again["queued"], again["ranges_read"], again["unchanged"]) == (0, 0, 0, 35)

    line = first_line(tadbir, docs[22])  # a line of invoice 23 (range 2): its header stays as it is
    with tadbir.begin() as conn:
        conn.execute(schema.sp_article.update().where(schema.sp_article.c.Id == line).values(Amount=7))
    edited = detect(tadbir, ledger)
    assert (edited["ranges_read"], edited["rows_read"], edited["queued"]) == (1, 10, 1)
    assert [p.tadbir_key for p in ledger.pending(100, SPEC.name, limit=10)] == ["1404/23"]


def test_the_ledger_keeps_each_ranges_checksums_and_keys(tadbir, ledger):
    many(tadbir, 12)
    detect(tadbir, ledger)
    state = DetectState(ledger)
    stored = state.ranges(100, SPEC.name, 2)
    assert sorted(stored) == [0, 1]
    assert stored[0].header_checksum.startswith("h9:") and stored[0].lines_checksum.startswith("l9:")  # Ids 1-9
    members = state.members(100, SPEC.name, 2, [1])
    assert members == {"1404/10": {(2, 1): [10]}, "1404/11": {(2, 1): [11]}, "1404/12": {(2, 1): [12]}}


def test_a_settings_change_that_changes_hashes_reads_every_range_again(tadbir, ledger):
    many(tadbir, 12)
    detect(tadbir, ledger)
    loaded(ledger)
    base = context(checksum_range_size=10).config
    renumbered = base.model_copy(update={"sales_invoices": base.sales_invoices.model_copy(
        update={"number_template": "{companyCode}-F{*(AN)}"})})
    counts = detect(tadbir, ledger, SyncContext(renumbered, renumbered.company(100)))
    assert (counts["ranges_read"], counts["queued"]) == (2, 12)
    # an operational setting (the chunk size) does not
    loaded(ledger)
    assert detect(tadbir, ledger, context(checksum_range_size=10, chunk_size=7))["ranges_read"] == 2
    loaded(ledger)
    assert detect(tadbir, ledger, context(checksum_range_size=10, chunk_size=9))["ranges_read"] == 0


def test_full_resync_and_a_fiscal_year_backfill_scan(tadbir, ledger):
    many(tadbir, 3)
    detect(tadbir, ledger)
    loaded(ledger)
    assert detect(tadbir, ledger, full_resync=True)["queued"] == 3
    assert "ranges_read" not in detect(tadbir, ledger, fiscal_year=1404)


def test_change_capture_is_chosen_per_company_with_a_default():
    cfg = parse_config(yaml.safe_dump({
        "companies": [{"code": 100}, {"code": 200, "change_capture": "change_tracking"}],
        "sync": {"change_capture": "scan"}}))
    assert (cfg.change_capture_of(100), cfg.change_capture_of(200)) == ("scan", "change_tracking")
    assert parse_config(yaml.safe_dump({"companies": [{"code": 100}]})).change_capture_of(100) == "checksum"
    with pytest.raises(ConfigError, match="change_capture"):
        parse_config(yaml.safe_dump({"companies": [{"code": 100, "change_capture": "rowversion"}]}))


# -- change_tracking on the fake provider ---------------------------------------------------------------

def test_change_tracking_reads_only_the_ranges_it_names_and_keeps_its_versions(tadbir, ledger):
    install_fake_change_tracking(tadbir)
    provider = FakeChangeTracking()
    docs = many(tadbir)
    ctx = context(checksum_range_size=10, change_capture="change_tracking")

    def run():
        return changes.detect_changes(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r", capture="change_tracking",
                                      provider=provider)

    assert run()["ranges_read"] == 4  # the first run reads everything
    loaded(ledger)
    version = ledger.get_cursor(100, SPEC.name, "ct:__SPFactor__")
    assert version is not None and ledger.get_cursor(100, SPEC.name, "ct:__SPArticle__") == version
    assert (run()["ranges_read"], provider.calls[-1][1:]) == (0, (int(version), int(version)))

    line = first_line(tadbir, docs[22])
    with tadbir.begin() as conn:  # a live line's change maps to its document's range through its SPId
        conn.execute(schema.sp_article.update().where(schema.sp_article.c.Id == line).values(Amount=7))
    counts = run()
    assert (counts["ranges_read"], counts["queued"]) == (1, 1)
    loaded(ledger)
    with tadbir.begin() as conn:  # a deleted line leaves only its key: that period's checksums decide
        conn.execute(schema.sp_article.delete().where(schema.sp_article.c.Id == first_line(tadbir, docs[5])))
    counts = run()
    assert (counts["ranges_read"], [p.tadbir_key for p in ledger.pending(100, SPEC.name, limit=9)]) == (1, ["1404/6"])


def test_change_tracking_older_than_the_min_valid_version_reads_everything_and_says_why(tadbir, ledger, caplog):
    install_fake_change_tracking(tadbir)
    provider = FakeChangeTracking()
    many(tadbir, 12)
    ctx = context(checksum_range_size=10, change_capture="change_tracking")
    changes.detect_changes(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r", capture="change_tracking",
                           provider=provider)
    loaded(ledger)
    add_document(tadbir, "sales_invoices", 99)
    with tadbir.begin() as conn:  # the retention period passed: changes were cleaned up
        conn.exec_driver_sql("UPDATE ct_state SET min_valid = (SELECT MAX(version) FROM ct_log)")
    with caplog.at_level(logging.WARNING, logger="hamgam.tadbir.changes"):
        counts = changes.detect_changes(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r",
                                        capture="change_tracking", provider=provider)
    assert (counts["ranges_read"], counts["queued"]) == (2, 1)
    assert "older than CHANGE_TRACKING_MIN_VALID_VERSION" in caplog.text and "every range is read" in caplog.text


# -- the reconcile --------------------------------------------------------------------------------------

def test_the_reconcile_reports_and_fixes_what_the_fast_source_missed(tadbir, ledger, caplog):
    docs = many(tadbir, 12)
    ctx = context(checksum_range_size=10)
    detect(tadbir, ledger, ctx)
    loaded(ledger)
    line = first_line(tadbir, docs[3])
    with tadbir.begin() as conn:
        conn.execute(schema.sp_article.update().where(schema.sp_article.c.Id == line).values(Amount=5))
    # a checksum collision, simulated: the stored checksum already equals the edited range's
    state = DetectState(ledger)
    current = changes.period_checksums(tadbir, SPEC, 2, 10)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE detect_range SET header_checksum = ?, lines_checksum = ? WHERE range_no = 0",
                             current[0])
    assert detect(tadbir, ledger, ctx)["queued"] == 0  # missed

    with caplog.at_level(logging.WARNING, logger="hamgam.tadbir.changes"):
        result = changes.reconcile(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="drift")
    assert (result["missed"], result["missed_keys"]) == (1, ["1404/4 (upsert)"])
    assert "the daily reconcile found 1 difference(s)" in caplog.text and "1404/4 (upsert)" in caplog.text
    assert [p.tadbir_key for p in ledger.pending(100, SPEC.name, limit=9)] == ["1404/4"]
    assert 0 not in state.ranges(100, SPEC.name, 2)  # that range is read again by the next fast run
    loaded(ledger)
    assert changes.reconcile(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="drift")["missed"] == 0


# -- reads that never block -----------------------------------------------------------------------------

def test_a_lock_timeout_is_a_retriable_error_naming_the_table(tmp_path, ledger):
    path = tmp_path / "locked.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    fill_base(engine)
    add_document(engine, "sales_invoices", 1)
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # a finance user's open write transaction
    try:
        ctx = context(read_lock_timeout_ms=200)
        with pytest.raises(TadbirBusy, match="Tadbir table __FiscalPeriod__ is locked") as caught:
            pipeline.detect(SPEC, ctx, engine=engine, ledger=ledger, run_id="r")
        assert caught.value.retriable and caught.value.table == "__FiscalPeriod__"
    finally:
        holder.rollback()
        holder.close()
    assert pipeline.detect(SPEC, context(), engine=engine, ledger=ledger, run_id="r")["queued"] == 1
    engine.dispose()


def test_read_sessions_set_their_lock_timeout_on_each_connection(tadbir):
    from hamgam.tadbir.sessions import ReadSettings, read_engine, session_statements

    engine = read_engine(tadbir, ReadSettings(lock_timeout_ms=1234))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    assert session_statements("postgresql", ReadSettings(0)) == ["SET lock_timeout = '1ms'"]
    assert read_engine(tadbir, ReadSettings(snapshot=True)) is tadbir  # SNAPSHOT is for SQL Server only
