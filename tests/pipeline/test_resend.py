"""Resend from the hamgam page (hamgam.dashboard.resend): the next detection queues the record again although
Tadbir did not change it (a fix made in the CRM), whatever the change capture, and only once."""

from __future__ import annotations

import pytest
from document_world import add, outcome, sync

from hamgam.dashboard.resend import request_resend


@pytest.mark.parametrize("capture", ["checksum", "scan"])
def test_a_resend_sends_again_a_record_tadbir_did_not_change(tadbir, ledger, crm, sandbox, capture):
    add(tadbir, "sales_invoices", 7)
    assert sync("sales_invoices", tadbir, ledger, crm, capture=capture)["created"] == 1
    synced_hash = outcome(ledger, "sales_invoices", 7).content_hash

    sandbox.reset_stats()
    assert sync("sales_invoices", tadbir, ledger, crm, capture=capture)["queued"] == 0  # nothing changed
    assert sandbox.stats()["writes"] == 0

    assert request_resend(ledger, 100, "sales_invoices", ["1404/7", "1404/999"]) == 1  # unknown keys: ignored
    counts = sync("sales_invoices", tadbir, ledger, crm, capture=capture)
    assert counts["queued"] == 1 and sandbox.stats()["writes"] >= 1
    record = outcome(ledger, "sales_invoices", 7)
    assert (record.status, record.content_hash) == ("synced", synced_hash)

    sandbox.reset_stats()
    assert sync("sales_invoices", tadbir, ledger, crm, capture=capture)["queued"] == 0  # once, not for ever
    assert sandbox.stats()["writes"] == 0
