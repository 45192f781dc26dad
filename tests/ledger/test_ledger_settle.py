"""Settling outcomes in batches, and the send marks of creates sent without a look first."""

from __future__ import annotations

import pytest

from hamgam.ledger import Settlement


def test_a_batch_settles_outcomes_dequeues_the_final_ones_and_logs_each(ledger):
    ledger.queue_changes(1, "identities", [(k, "upsert", f"h{k}") for k in ("a", "b", "c", "d")], "run-1")
    run_pk = ledger.start_run("dag", "run-1", 1, "identities", holder="try-1")
    with ledger.attribute(run_pk, "try-1"):
        ledger.settle(1, "identities", [
            Settlement("a", "synced", crm_id="id-a", crm_number="1-a", content_hash="ha", dequeue=True),
            Settlement("b", "rejected", content_hash="hb", error="customer 1-b: refused", dequeue=True),
            Settlement("c", "failed", content_hash="hc", error="the CRM did not answer"),  # stays queued
        ])
    assert [p.tadbir_key for p in ledger.pending(1, "identities", limit=10)] == ["c", "d"]
    states = ledger.states(1, "identities", ["a", "b", "c", "d"])
    assert set(states) == {"a", "b", "c"}
    assert (states["a"].status, states["a"].crm_id, states["a"].crm_number) == ("synced", "id-a", "1-a")
    assert (states["b"].status, states["b"].last_error) == ("rejected", "customer 1-b: refused")
    assert states["c"].status == "failed"
    assert [(o.tadbir_key, o.outcome, o.sync_run_id) for o in ledger.outcome_log(run_pk)] == [
        ("a", "created", run_pk), ("b", "rejected", run_pk), ("c", "failed", run_pk)]


def test_a_key_settled_twice_in_one_batch_counts_both_in_order(ledger):
    ledger.settle(1, "identities", [Settlement("a", "failed", error="timeout"),
                                    Settlement("a", "synced", crm_id="id-a", dequeue=True)])
    state = ledger.get(1, "identities", "a")
    assert (state.status, state.crm_id, state.attempts, state.last_error) == ("synced", "id-a", 2, None)
    assert [o.outcome for o in ledger.outcome_log(company=1)] == ["failed", "created"]
    ledger.settle(1, "identities", [Settlement("a", "synced", crm_id="id-a", dequeue=True)])
    assert ledger.outcome_log(company=1)[-1].outcome == "updated"


def test_a_batch_is_all_or_nothing(ledger):
    ledger.queue_changes(1, "identities", [("a", "upsert", "h"), ("b", "upsert", "h")], "run-1")
    with pytest.raises(ValueError, match="status"):
        ledger.settle(1, "identities", [Settlement("a", "synced", crm_id="id-a", dequeue=True),
                                        Settlement("b", "no-such-status", dequeue=True)])
    assert ledger.states(1, "identities", ["a", "b"]) == {}
    assert len(ledger.pending(1, "identities", limit=10)) == 2


def test_send_marks_stay_until_the_crm_is_known_to_hold_the_record(ledger):
    ledger.mark_sent(1, "identities", ["a", "b", "c", "d"], holder="try-1")
    ledger.mark_sent(1, "identities", ["a"], holder="try-2")  # marking again changes nothing
    assert ledger.sent_marks(1, "identities", ["a", "b", "c", "d", "e"]) == {"a", "b", "c", "d"}
    assert ledger.sent_marks(2, "identities", ["a"]) == set()
    ledger.settle(1, "identities", [
        Settlement("a", "synced", crm_id="id-a", dequeue=True),
        Settlement("b", "failed", error="no answer"),  # it may be in the CRM: the mark stays
        Settlement("c", "rejected", error="refused", dequeue=True),  # refused after a retry: still look first
        Settlement("d", "deleted", dequeue=True),
    ])
    assert ledger.sent_marks(1, "identities", ["a", "b", "c", "d"]) == {"b", "c"}
