"""What the freshness lag (``hamgam.freshness``) reads from the ledger: the company's latest successful run of
an entity and the oldest change still queued; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from hamgam.freshness import freshness_lag

DAG = "tadbir_to_payamgostar__identities"


def test_the_lag_runs_from_the_last_successful_run_or_the_oldest_queued_change(ledger, clock):
    assert freshness_lag(ledger, 100, "identities", clock.now) is None  # never synced, nothing queued
    first = clock.now
    ledger.finish_run(ledger.start_run(DAG, "r1", 100, "identities"), "success", {})
    clock.advance(600)
    ledger.finish_run(ledger.start_run(DAG, "r2", 100, "identities"), "failed", {}, "the CRM refused")
    assert ledger.latest_success(100, "identities").run_id == "r1"
    assert ledger.latest_success(200, "identities") is None
    assert freshness_lag(ledger, 100, "identities", clock.now) == timedelta(seconds=600)

    clock.advance(60)
    assert ledger.oldest_pending_at(100, "identities") is None
    ledger.queue_changes(100, "identities", [("10040", "upsert", "h1")], "r3")
    clock.advance(60)
    ledger.queue_changes(100, "identities", [("10041", "upsert", "h2")], "r4")
    assert ledger.oldest_pending_at(100, "identities") == first + timedelta(seconds=660)
    assert freshness_lag(ledger, 100, "identities", clock.now) == timedelta(seconds=720)  # the run is older

    clock.advance(60)
    ledger.finish_run(ledger.start_run(DAG, "r5", 100, "identities"), "success", {})  # started at +780 s
    clock.advance(30)
    # the change queued at +660 s is still there: it bounds the lag now
    assert freshness_lag(ledger, 100, "identities", clock.now) == timedelta(seconds=150)
    ledger.dequeue(100, "identities", ["10040", "10041"])
    assert freshness_lag(ledger, 100, "identities", clock.now) == timedelta(seconds=30)
