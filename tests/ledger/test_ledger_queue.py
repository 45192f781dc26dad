"""The pending-change queue between detection and load."""

from __future__ import annotations

import pytest


def test_pending_is_read_in_key_order_in_chunks(ledger):
    keys = [f"{n:04d}" for n in range(25)]
    shuffled = keys[7:] + keys[:7][::-1]
    assert ledger.queue_changes(1, "identities", [(k, "upsert", f"h{k}") for k in shuffled], "run-1") == 25

    chunks, after = [], None
    while chunk := ledger.pending(1, "identities", limit=10, after_key=after):
        chunks.append([c.tadbir_key for c in chunk])
        after = chunk[-1].tadbir_key

    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [k for c in chunks for k in c] == keys
    first = ledger.pending(1, "identities", limit=1)[0]
    assert (first.action, first.content_hash, first.run_id) == ("upsert", "h0000", "run-1")
    assert first.detected_at.tzinfo is not None


def test_queueing_a_key_again_replaces_it(ledger, clock):
    ledger.queue_changes(1, "identities", [("1", "upsert", "h1"), ("2", "upsert", "h2")], "run-1")
    clock.advance(300)

    queued = ledger.queue_changes(1, "identities", [("1", "upsert", "h1b"), ("1", "delete", None)], "run-2")

    assert queued == 1
    assert ledger.pending_count(1, "identities") == 2
    one, two = ledger.pending(1, "identities", limit=10)
    assert (one.action, one.content_hash, one.run_id, one.detected_at) == ("delete", None, "run-2", clock.now)
    assert (two.action, two.content_hash, two.run_id) == ("upsert", "h2", "run-1")


def test_a_change_may_carry_a_locator(ledger):
    ledger.queue_changes(1, "identities", [
        ("1", "upsert", "h1", {"period": 7, "ids": [101, 102]}),
        ("2", "delete", None, None),
        ("3", "upsert", "h3"),
    ], "run-1")

    assert [c.locator for c in ledger.pending(1, "identities", limit=10)] == [
        {"period": 7, "ids": [101, 102]}, None, None]
    ledger.queue_changes(1, "identities", [("1", "upsert", "h1b", {"period": 8, "ids": [5]})], "run-2")
    assert ledger.pending(1, "identities", limit=1)[0].locator == {"period": 8, "ids": [5]}
    with pytest.raises(ValueError, match="locator"):
        ledger.queue_changes(1, "identities", [("4", "upsert", "h", {}, "extra")], "run-3")


def test_queues_are_per_company_and_entity(ledger):
    ledger.queue_changes(1, "identities", [("1", "upsert", "a")], None)
    ledger.queue_changes(2, "identities", [("1", "upsert", "b"), ("2", "upsert", "b")], None)
    ledger.queue_changes(1, "products", [("1", "delete", None)], None)

    assert [ledger.pending_count(*scope) for scope in [(1, "identities"), (2, "identities"),
                                                       (1, "products"), (1, "quotes")]] == [1, 2, 1, 0]
    assert ledger.pending(2, "identities", limit=10)[0].content_hash == "b"
    assert ledger.clear_pending(2, "identities") == 2
    assert ledger.pending_count(1, "identities") == 1


def test_dequeue_removes_only_the_given_keys(ledger):
    keys = [f"k{n:05d}" for n in range(1200)]
    ledger.queue_changes(1, "identities", [(k, "upsert", "h") for k in keys], "run-1")
    ledger.queue_changes(1, "products", [("k00000", "upsert", "h")], "run-1")

    assert ledger.dequeue(1, "identities", keys[:1100] + ["unknown", keys[0]]) == 1100

    assert [c.tadbir_key for c in ledger.pending(1, "identities", limit=1000)] == keys[1100:]
    assert ledger.pending_count(1, "products") == 1
    assert ledger.dequeue(1, "identities", []) == 0


def test_bad_changes_are_refused(ledger):
    assert ledger.queue_changes(1, "identities", [], "run-1") == 0
    with pytest.raises(ValueError, match="action"):
        ledger.queue_changes(1, "identities", [("1", "insert", "h")], "run-1")
    with pytest.raises(TypeError):
        ledger.queue_changes(1, "identities", [(1, "upsert", "h")], "run-1")
    assert ledger.pending_count(1, "identities") == 0
