"""Leases: one loader per company + entity at a time."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from hamgam.ledger import LeaseBusy


def test_a_live_lease_excludes_other_holders(ledger, clock):
    assert ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)
    assert not ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)
    assert ledger.acquire_lease(1, "products", "run-b", ttl_seconds=60)
    assert ledger.acquire_lease(2, "identities", "run-b", ttl_seconds=60)

    assert ledger.lease_holder(1, "identities") == ("run-a", clock.now + timedelta(seconds=60))


def test_the_holder_renews_its_lease(ledger, clock):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)
    clock.advance(50)

    assert ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)

    clock.advance(50)
    assert not ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities")[0] == "run-a"


def test_an_expired_lease_is_taken_over(ledger, clock):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)
    clock.advance(60)

    assert ledger.lease_holder(1, "identities") is None
    assert ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)
    # the late holder can neither take it back nor release the new holder's lease
    assert not ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)
    assert not ledger.release_lease(1, "identities", "run-a")
    assert ledger.lease_holder(1, "identities")[0] == "run-b"


def test_a_released_lease_is_free(ledger):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)

    assert ledger.release_lease(1, "identities", "run-a")

    assert ledger.lease_holder(1, "identities") is None
    assert ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)


def test_ttl_must_be_positive(ledger):
    with pytest.raises(ValueError, match="ttl_seconds"):
        ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=0)


def test_lease_context_holds_and_releases(ledger):
    with ledger.lease(1, "identities", "run-a", ttl_seconds=60):
        assert ledger.lease_holder(1, "identities")[0] == "run-a"
        assert not ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities") is None

    with pytest.raises(RuntimeError, match="load failed"):
        with ledger.lease(1, "identities", "run-a", ttl_seconds=60):
            raise RuntimeError("load failed")
    assert ledger.lease_holder(1, "identities") is None


def test_lease_context_raises_lease_busy(ledger, clock):
    ledger.acquire_lease(1, "identities", "tadbir_to_payamgostar__identities/manual__1", ttl_seconds=600)

    with pytest.raises(LeaseBusy) as caught:
        with ledger.lease(1, "identities", "run-b", ttl_seconds=60):
            pytest.fail("entered a lease held by another run")

    busy = caught.value
    assert (busy.company, busy.entity, busy.holder_now) == (
        1, "identities", "tadbir_to_payamgostar__identities/manual__1")
    assert busy.expires_at == clock.now + timedelta(seconds=600)
    assert str(busy) == ("company 1 identities: the sync lease is held by "
                         "'tadbir_to_payamgostar__identities/manual__1' until 2025-03-21 08:40:00 UTC: "
                         "another run is loading it")


def test_lease_context_waits_for_a_release(ledger):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=600)
    releaser = threading.Timer(0.3, ledger.release_lease, args=(1, "identities", "run-a"))
    releaser.start()
    started = time.monotonic()
    try:
        with ledger.lease(1, "identities", "run-b", ttl_seconds=60, wait_seconds=10):
            assert ledger.lease_holder(1, "identities")[0] == "run-b"
    finally:
        releaser.join()
    assert 0.3 <= time.monotonic() - started < 5


def test_lease_context_gives_up_after_waiting(ledger):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=600)
    started = time.monotonic()

    with pytest.raises(LeaseBusy):
        with ledger.lease(1, "identities", "run-b", ttl_seconds=60, wait_seconds=0.6):
            pass

    assert 0.6 <= time.monotonic() - started < 3


def test_a_lease_lost_during_the_block_is_logged_not_released(ledger, clock, caplog):
    with ledger.lease(1, "identities", "run-a", ttl_seconds=60):
        clock.advance(61)
        assert ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)

    assert ledger.lease_holder(1, "identities")[0] == "run-b"
    assert "'run-a' expired during the run and was taken over" in caplog.text
