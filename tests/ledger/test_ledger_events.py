"""The webhook queue: one pending event per record, race-safe; finishing, counting and listing events."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from ledger_workers import _start_together, run_parallel
from sqlalchemy import inspect, text

from hamgam.ledger import EventRow, Ledger, make_engine, upgrade
from hamgam.ledger.migrate import alembic_config

GUID = "880d8361-7560-45b7-9670-79d91257f59a"
OTHER = "0b9c7c2e-5f7a-4b86-9a37-2d1f5e0c4a11"


def store(ledger: Ledger, crm_id: str = GUID, event: str = "Insert", source: str = "customer") -> bool:
    return ledger.store_event(source, event, crm_id, "Identity", "مخاطب حقیقی")


def test_an_event_is_stored_pending_with_what_the_crm_sent(ledger, clock):
    assert store(ledger) is True

    [row] = ledger.pending_events("customer")
    assert isinstance(row, EventRow)
    assert (row.source, row.event, row.crm_id, row.crm_type, row.subtype) == (
        "customer", "Insert", GUID, "Identity", "مخاطب حقیقی")
    assert (row.status, row.attempts, row.deliveries, row.processed_at, row.message, row.run_id) == (
        "pending", 0, 1, None, None, None)
    assert row.received_at == row.last_received_at == clock.now
    assert ledger.pending_events("salequote") == []


def test_a_duplicate_of_a_pending_event_is_stored_once(ledger, clock):
    assert store(ledger, event="Insert") is True
    clock.advance(5)
    assert store(ledger, event="Update") is False
    assert store(ledger, event="Update") is False

    [row] = ledger.pending_events("customer")
    assert row.event == "Insert"  # the first announcement; the reverse flow reads the record's current state
    assert row.deliveries == 3
    assert row.last_received_at == clock.now and row.received_at < row.last_received_at
    assert ledger.count_events() == 1


def test_the_same_record_from_another_source_or_another_record_is_a_new_event(ledger):
    assert store(ledger, source="customer") is True
    assert store(ledger, source="salequote") is True
    assert store(ledger, crm_id=OTHER) is True

    assert ledger.count_events(status="pending") == 3
    assert [r.crm_id for r in ledger.pending_events("customer")] == [GUID, OTHER]


def test_after_an_event_is_finished_a_new_webhook_is_stored_again(ledger, clock):
    store(ledger)
    [first] = ledger.pending_events("customer")
    clock.advance(60)

    assert ledger.finish_event(first.id, "done", run_id="manual__1") is True
    assert ledger.pending_events("customer") == []
    assert store(ledger, event="Update") is True

    [second] = ledger.pending_events("customer")
    assert second.id != first.id and second.event == "Update"
    [newest, done] = ledger.events()
    assert newest.id == second.id
    assert (done.status, done.attempts, done.processed_at, done.run_id) == ("done", 1, clock.now, "manual__1")


@pytest.mark.parametrize("status", ["done", "ignored", "failed"])
def test_finishing_stamps_status_message_and_attempts(ledger, clock, status):
    store(ledger)
    [row] = ledger.pending_events("customer")

    assert ledger.finish_event(row.id, status, message=f"identity {GUID}: why", run_id="r1") is True

    [after] = ledger.events()
    assert (after.status, after.message, after.run_id, after.attempts, after.processed_at) == (
        status, f"identity {GUID}: why", "r1", 1, clock.now)


def test_a_failed_attempt_can_leave_the_event_queued(ledger):
    store(ledger)
    [row] = ledger.pending_events("customer")

    assert ledger.finish_event(row.id, "pending", message="CRM timed out", run_id="r1") is True
    assert ledger.finish_event(row.id, "pending", message="CRM timed out again", run_id="r2") is True

    [again] = ledger.pending_events("customer")
    assert (again.id, again.attempts, again.message, again.run_id, again.processed_at) == (
        row.id, 2, "CRM timed out again", "r2", None)


def test_a_finished_event_is_not_reopened(ledger):
    store(ledger)
    [row] = ledger.pending_events("customer")
    ledger.finish_event(row.id, "done")

    with pytest.raises(ValueError, match="is done"):
        ledger.finish_event(row.id, "pending")
    assert ledger.finish_event(row.id, "failed", message="found wrong later") is True  # a correction is fine


def test_a_change_announced_while_the_event_was_processed_keeps_it_queued(ledger):
    store(ledger)
    [read] = ledger.pending_events("customer")  # the reverse flow reads the record from the CRM ...
    assert store(ledger, event="Update") is False  # ... and the user edits it again meanwhile

    assert ledger.finish_event(read.id, "done", run_id="r1", deliveries=read.deliveries) is False

    [still] = ledger.pending_events("customer")
    assert (still.id, still.status, still.attempts, still.deliveries) == (read.id, "pending", 1, 2)
    assert "announced the record again" in still.message
    assert ledger.finish_event(still.id, "done", run_id="r2", deliveries=still.deliveries) is True
    assert ledger.count_events(status="done") == 1


def test_finishing_an_unknown_event_raises(ledger):
    with pytest.raises(LookupError, match="no webhook event with id 424242"):
        ledger.finish_event(424242, "done")


def test_pending_events_come_oldest_first_up_to_the_limit(ledger, clock):
    ids = [str(uuid.UUID(int=i)) for i in range(1, 8)]
    for crm_id in ids:
        store(ledger, crm_id=crm_id)
        clock.advance(1)

    assert [r.crm_id for r in ledger.pending_events("customer", limit=3)] == ids[:3]
    assert [r.crm_id for r in ledger.events(limit=2)] == ids[:-3:-1]


def test_counts_by_status_and_source(ledger):
    for i in range(3):
        store(ledger, crm_id=str(uuid.UUID(int=i + 1)))
    store(ledger, source="salequote")
    ledger.finish_event(ledger.pending_events("customer")[0].id, "done")

    assert ledger.count_events() == 4
    assert ledger.count_events(status="pending") == 3
    assert ledger.count_events(source="customer") == 3
    assert ledger.count_events(status="pending", source="customer") == 2
    assert ledger.count_events(status="failed") == 0
    assert [r.source for r in ledger.events(source="salequote")] == ["salequote"]


@pytest.mark.parametrize(("args", "error"), [
    (("invoice", "Insert", GUID), "source"),
    (("customer", "insert", GUID), "event"),
    (("customer", "Created", GUID), "event"),
])
def test_unknown_sources_and_events_are_refused(ledger, args, error):
    with pytest.raises(ValueError, match=error):
        ledger.store_event(*args)
    with pytest.raises(TypeError, match="crm_id"):
        ledger.store_event("customer", "Insert", "")
    assert ledger.count_events() == 0


def test_one_pending_event_per_record_is_enforced_by_the_database(ledger):
    store(ledger)
    with pytest.raises(Exception, match="(?i)unique"), ledger.engine.begin() as conn:
        conn.execute(text("INSERT INTO webhook_event (source, event, crm_id, received_at, last_received_at, "
                          "deliveries, status, attempts) VALUES ('customer', 'Update', :id, :t, :t, 1, "
                          "'pending', 0)"), {"id": GUID, "t": "2025-01-01 00:00:00+00:00"})
    indexes = {ix["name"]: ix for ix in inspect(ledger.engine).get_indexes("webhook_event")}
    pending = indexes["uq_webhook_event_pending_source_crm_id"]
    assert pending["unique"] and pending["column_names"] == ["source", "crm_id"]


def test_threads_storing_the_same_event_at_once_store_it_once(ledger):
    rounds, threads = 20, 8
    barrier = threading.Barrier(threads)

    def racer(crm_ids: list[str]) -> list[bool]:
        stored = []
        for crm_id in crm_ids:
            barrier.wait(timeout=30)
            stored.append(store(ledger, crm_id=crm_id))
        return stored

    crm_ids = [str(uuid.uuid4()) for _ in range(rounds)]
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(racer, [crm_ids] * threads))

    assert [sum(r[i] for r in results) for i in range(rounds)] == [1] * rounds
    assert ledger.count_events() == rounds
    assert {r.deliveries for r in ledger.events(limit=rounds)} == {threads}


def store_worker(url: str, crm_ids: list[str]) -> list[bool]:
    """In a separate process: store each event at the same moment as the other workers."""
    ledger = Ledger.connect(url)
    try:
        stored = []
        for crm_id in crm_ids:
            _start_together()
            stored.append(ledger.store_event("salequote", "Update", crm_id, "Quote", "پیش فاکتور کالا"))
        return stored
    finally:
        ledger.dispose()


def test_processes_storing_the_same_event_at_once_store_it_once(db_url):
    processes = 2 if db_url.startswith("sqlite") else 4
    crm_ids = [str(uuid.uuid4()) for _ in range(15)]
    Ledger.connect(db_url).dispose()

    results = run_parallel(store_worker, [(db_url, crm_ids)] * processes)

    assert [sum(r[i] for r in results) for i in range(len(crm_ids))] == [1] * len(crm_ids)
    with Ledger.connect(db_url) as ledger:
        rows = ledger.pending_events("salequote")
        assert sorted(r.crm_id for r in rows) == sorted(crm_ids)
        assert {r.deliveries for r in rows} == {processes}


def test_upgrading_a_0001_ledger_keeps_its_records_and_adds_the_queue(fresh_db_url):
    command.upgrade(alembic_config(fresh_db_url), "0001")
    engine = make_engine(fresh_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sync_cursor (company, entity, name, value, updated_at) "
                              "VALUES (100, 'products', 'rowversion', '42', '2025-01-01 00:00:00')"))
    finally:
        engine.dispose()

    upgrade(fresh_db_url)
    with Ledger.connect(fresh_db_url) as ledger:
        assert ledger.get_cursor(100, "products", "rowversion") == "42"
        assert store(ledger) is True

    command.downgrade(alembic_config(fresh_db_url), "0001")
    engine = make_engine(fresh_db_url)
    try:
        assert "webhook_event" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
