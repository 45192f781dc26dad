"""Event-driven runs start several DAGs at once: a new customer saved with its first invoice starts the
identities DAG and the sales invoices DAG together, and the invoice load syncs the customer first under
the identities lease. The identities tasks wait for that short reference sync instead of failing into a
retry minutes later; any other holder of the lease still fails them at once."""

from __future__ import annotations

import threading

import pytest

from hamgam.config import load_config
from hamgam.ledger.store import LeaseBusy, Ledger
from hamgam.tasks import _after_reference_syncs


@pytest.fixture
def ledger(tmp_path):
    opened = Ledger.connect(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.dispose()


def test_a_task_waits_for_a_document_loads_reference_sync_and_then_runs(ledger):
    holder = "tadbir_to_payamgostar__sales_invoices/run/sales_invoices.load/0/1:references"
    assert ledger.acquire_lease(100, "identities", holder, 60)
    attempts: list[str] = []
    tried = threading.Event()

    def call():
        with ledger.lease(100, "identities", holder="identities-run", ttl_seconds=60):
            attempts.append("ran")
            return "done"

    def first_attempt_then_release():
        tried.wait(30)
        ledger.release_lease(100, "identities", holder)

    def counted():
        try:
            return call()
        except LeaseBusy:
            attempts.append("busy")
            tried.set()
            raise

    releaser = threading.Thread(target=first_attempt_then_release)
    releaser.start()
    assert _after_reference_syncs(ledger, load_config(), 100, "identities", counted) == "done"
    releaser.join()
    assert attempts[0] == "busy" and attempts[-1] == "ran"


def test_another_run_holding_the_lease_still_fails_the_task_at_once(ledger):
    assert ledger.acquire_lease(100, "identities", "tadbir_to_payamgostar__identities/other/identities.load/0/1", 60)
    calls = []

    def call():
        calls.append(1)
        with ledger.lease(100, "identities", holder="identities-run", ttl_seconds=60):
            return "done"

    with pytest.raises(LeaseBusy):
        _after_reference_syncs(ledger, load_config(), 100, "identities", call)
    assert calls == [1]
