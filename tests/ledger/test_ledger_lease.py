"""Leases: one loader per company + entity at a time; one holder per try, kept alive by a heartbeat."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from hamgam.ledger import LeaseBusy, LeaseLost, Ledger, try_holder


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


def test_holds_lease_reads_a_live_lease_and_takes_an_expired_one_nobody_took(ledger, clock):
    ledger.acquire_lease(1, "identities", "run-a", ttl_seconds=60)
    expires = ledger.lease_holder(1, "identities")[1]
    clock.advance(30)

    assert ledger.holds_lease(1, "identities", "run-a", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities")[1] == expires  # a read: the heartbeat renews, not the check
    assert not ledger.holds_lease(1, "identities", "run-b", ttl_seconds=60)

    clock.advance(40)  # expired, nobody took it: the holder takes it again
    assert ledger.holds_lease(1, "identities", "run-a", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities") == ("run-a", clock.now + timedelta(seconds=60))

    clock.advance(70)
    assert ledger.acquire_lease(1, "identities", "run-b", ttl_seconds=60)  # taken over
    assert not ledger.holds_lease(1, "identities", "run-a", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities")[0] == "run-b"


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


# -- one lease per try, kept alive by a heartbeat (issue 8, defect 7) ------------------------------

def wait_for(condition, what: str, timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_each_try_of_a_task_is_its_own_holder(ledger):
    first = try_holder("tadbir_to_payamgostar__identities", "manual__2025-03-21", "identities.load", 0, 1)
    retry = try_holder("tadbir_to_payamgostar__identities", "manual__2025-03-21", "identities.load", 0, 2)
    other_company = try_holder("tadbir_to_payamgostar__identities", "manual__2025-03-21", "identities.load", 1, 1)
    assert len({first, retry, other_company}) == 3
    assert first == "tadbir_to_payamgostar__identities/manual__2025-03-21/identities.load/0/1"

    assert ledger.acquire_lease(1, "identities", first, ttl_seconds=60)
    # the retry of an orphaned try does not share its lease: they never load side by side
    assert not ledger.acquire_lease(1, "identities", retry, ttl_seconds=60)


def test_a_holder_is_short_enough_for_the_ledger_even_for_long_ids():
    holder = try_holder("d" * 250, "r" * 250, "t" * 250, 3, 7)
    assert len(holder) <= 200
    assert holder != try_holder("d" * 250, "r" * 250, "t" * 250, 3, 8)


def test_the_heartbeat_keeps_a_live_lease_beyond_its_ttl(ledger, clock):
    with ledger.lease(1, "identities", "try-1", ttl_seconds=60, heartbeat_seconds=0.02) as held:
        for _ in range(3):  # 120 s on the ledger's clock: twice the ttl
            clock.advance(40)
            seen = held.renewals
            wait_for(lambda seen=seen: held.renewals >= seen + 2, "two renewals after the clock moved")
        assert not held.lost
        assert ledger.lease_holder(1, "identities")[0] == "try-1"
        assert not ledger.acquire_lease(1, "identities", "try-2", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities") is None  # released on exit


def test_a_lease_without_heartbeat_would_have_expired(ledger, clock):
    """The control of the test above: the same clock moves without renewals and the lease is gone."""
    ledger.acquire_lease(1, "identities", "try-1", ttl_seconds=60)
    clock.advance(80)
    assert ledger.acquire_lease(1, "identities", "try-2", ttl_seconds=60)


def test_the_heartbeat_finds_a_lost_lease_and_the_try_cannot_take_it_back(ledger):
    with ledger.lease(1, "identities", "try-1", ttl_seconds=60, heartbeat_seconds=0.02) as held:
        # try 1 stalled (its worker was killed, or it froze), its lease expired and try 2 took it over
        with ledger.engine.begin() as conn:
            conn.execute(text("UPDATE sync_lease SET holder = 'try-2' WHERE company = 1 AND entity = 'identities'"))
        wait_for(lambda: held.lost, "the heartbeat to notice the lost lease")
        with pytest.raises(LeaseLost, match="try-1.*try-2|taken over"):
            held.check()
        # before its next write batch, try 1 asks for its lease again: refused, also once try 2 is done
        assert not ledger.acquire_lease(1, "identities", "try-1", ttl_seconds=60)
        assert ledger.release_lease(1, "identities", "try-2")
        assert not ledger.acquire_lease(1, "identities", "try-1", ttl_seconds=60)
    assert ledger.lease_holder(1, "identities") is None


def test_a_killed_holders_lease_is_taken_over_after_its_ttl(db_url):
    """A process holding a heartbeating lease is SIGKILLed: the next holder gets the lease within the ttl
    (real clock, ttl 1 s), while before the kill the heartbeat kept it beyond the ttl."""
    script = ("import sys, time\nfrom hamgam.ledger import Ledger\nledger = Ledger.connect(sys.argv[1])\n"
              "with ledger.lease(1, 'identities', 'try-1', ttl_seconds=1):\n"
              "    print('held', flush=True)\n    time.sleep(600)\n")
    with Ledger.connect(db_url) as ledger:
        child = subprocess.Popen([sys.executable, "-c", script, db_url], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "held"
            first_expiry = ledger.lease_holder(1, "identities")[1]
            wait_for(lambda: (ledger.lease_holder(1, "identities") or ("", first_expiry))[1]
                     > first_expiry + timedelta(seconds=1), "the heartbeat to renew beyond the first ttl")
            assert not ledger.acquire_lease(1, "identities", "try-2", ttl_seconds=1)
        finally:
            child.kill()
            child.wait()
        killed = time.monotonic()
        with ledger.lease(1, "identities", "try-2", ttl_seconds=1, wait_seconds=10):
            assert ledger.lease_holder(1, "identities")[0] == "try-2"
        assert time.monotonic() - killed < 3


def test_the_default_ttl_lets_a_dead_holders_lease_go_within_a_minute():
    from hamgam.config import SyncConfig

    assert SyncConfig().lease_ttl_seconds <= 60
