"""Cursors and run history."""

from __future__ import annotations

import pytest

from hamgam.ledger import COUNT_NAMES


def test_cursors_are_per_scope_and_name(ledger, clock):
    assert ledger.get_cursor(1, "identities", "rowversion") is None

    ledger.set_cursor(1, "identities", "rowversion", "0x00000000000A1B2C")
    ledger.set_cursor(1, "identities", "change_tracking", "4711")
    ledger.set_cursor(2, "identities", "rowversion", "0x01")
    ledger.set_cursor(1, "identities", "rowversion", "0x00000000000A1B2D")

    assert ledger.get_cursor(1, "identities", "rowversion") == "0x00000000000A1B2D"
    assert ledger.get_cursor(1, "identities", "change_tracking") == "4711"
    assert ledger.get_cursor(2, "identities", "rowversion") == "0x01"
    assert ledger.get_cursor(1, "products", "rowversion") is None


def test_a_run_is_started_then_finished(ledger, clock):
    started = clock.now
    run_pk = ledger.start_run("tadbir_to_payamgostar__identities", "scheduled__2025-03-21", 1, "identities")

    running = ledger.latest_run(1, "identities")
    assert (running.id, running.state, running.started_at, running.finished_at) == (
        run_pk, "running", started, None)
    assert running.counts == dict.fromkeys(COUNT_NAMES, 0)

    clock.advance(42)
    ledger.finish_run(run_pk, "success", {"created": 3, "updated": 2, "unchanged": 995}, "1000 records")

    done = ledger.latest_run(1, "identities")
    assert (done.state, done.finished_at, done.message) == ("success", clock.now, "1000 records")
    assert done.counts == {**dict.fromkeys(COUNT_NAMES, 0), "created": 3, "updated": 2, "unchanged": 995}
    assert (done.created, done.updated, done.unchanged, done.failed) == (3, 2, 995, 0)
    assert (done.dag_id, done.run_id, done.company, done.entity) == (
        "tadbir_to_payamgostar__identities", "scheduled__2025-03-21", 1, "identities")


def test_runs_are_listed_newest_first(ledger, clock):
    pks = []
    for n, (company, entity) in enumerate([(1, "identities"), (1, "products"), (2, "identities"),
                                           (1, "identities")]):
        pks.append(ledger.start_run(f"dag_{entity}", f"run-{n}", company, entity))
        clock.advance(10)

    assert [r.id for r in ledger.runs()] == pks[::-1]
    assert [r.id for r in ledger.runs(limit=2)] == pks[:1:-1]
    assert ledger.latest_run(1, "identities").id == pks[3]
    assert ledger.latest_run(2, "identities").id == pks[2]
    assert ledger.latest_run(1, "quotes") is None


def test_finish_run_refuses_bad_input(ledger):
    run_pk = ledger.start_run("dag", "run", 1, "identities")

    with pytest.raises(ValueError, match="unknown run counts"):
        ledger.finish_run(run_pk, "success", {"creatd": 1})
    with pytest.raises(ValueError, match="state"):
        ledger.finish_run(run_pk, "running", {})
    with pytest.raises(LookupError):
        ledger.finish_run(run_pk + 1000, "failed", {})
    assert ledger.latest_run(1, "identities").state == "running"
