"""Separate processes writing the same ledger at once: no errors, no lost or doubled writes."""

from __future__ import annotations

from collections import Counter

from ledger_workers import key_for, lease_worker, outcome_worker, run_parallel

from hamgam.ledger import Ledger


def test_concurrent_record_outcome_counts_every_write(db_url):
    processes = 2 if db_url.startswith("sqlite") else 4
    writes, keys = 300, 50
    Ledger.connect(db_url).dispose()  # schema in place; workers' own upgrade() calls are no-ops

    results = run_parallel(outcome_worker, [(db_url, p, writes, keys) for p in range(processes)])

    expected: Counter[str] = Counter()
    for written in results:
        expected.update(written)
    assert sum(expected.values()) == processes * writes
    shared = {key_for(p, i, keys) for i in range(writes) for p in range(processes)}
    assert len(shared) == keys
    with Ledger.connect(db_url) as ledger:
        records = ledger.records(1, "identities")
        assert {k: r.attempts for k, r in records.items()} == dict(expected)
        # every key got a crm_id at some point, and a later write without one never erased it
        assert all(r.crm_id == f"crm-{k}" for k, r in records.items())
        assert sum(ledger.counts_by_status(1, "identities").values()) == keys


def test_racing_for_a_lease_exactly_one_wins(db_url):
    processes = 2 if db_url.startswith("sqlite") else 4
    rounds = 15
    Ledger.connect(db_url).dispose()

    results = run_parallel(lease_worker, [(db_url, f"worker-{p}", rounds) for p in range(processes)])

    winners_per_round = [sum(won[r] for won in results) for r in range(rounds)]
    assert winners_per_round == [1] * rounds
    with Ledger.connect(db_url) as ledger:
        for r in range(rounds):
            holder, _ = ledger.lease_holder(1, f"race-{r}")
            assert results[int(holder.removeprefix("worker-"))][r] is True
