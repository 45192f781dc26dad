"""The lane: a chunk's calls start as the chunk before frees the pool's threads (no tail between chunks), the
CRM never sees more than the client's max_workers calls at once, answers are settled in the caller's thread,
and a failed check (a lost lease) starts nothing more while the calls that had started are still settled."""

from __future__ import annotations

import threading

import pytest

from hamgam.lane import Lane
from hamgam.payamgostar.client import PayamgostarClient

WORKERS = 2


class Calls:
    """Calls that hold until released; records which run at once and the most that ever did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.started: list[str] = []
        self.most = 0
        self.release = {name: threading.Event() for name in ("a1", "a2", "a3", "b1", "b2")}
        self.changed = threading.Condition(self.lock)

    def __call__(self, name: str) -> str:
        with self.lock:
            self.running.add(name)
            self.started.append(name)
            self.most = max(self.most, len(self.running))
            self.changed.notify_all()
        assert self.release[name].wait(30), f"{name} was never released"
        with self.lock:
            self.running.discard(name)
            self.changed.notify_all()
        return name.upper()

    def wait_for(self, condition, what: str) -> None:
        with self.lock:
            assert self.changed.wait_for(lambda: condition(self), timeout=30), what


@pytest.fixture
def client():
    with PayamgostarClient("http://127.0.0.1:9", "u", "p", max_workers=WORKERS) as opened:
        yield opened


def test_the_next_chunk_starts_in_the_tail_of_the_one_before_within_the_pool(client):
    calls, settled, threads = Calls(), [], set()
    lane = Lane(client)

    def settle(item, result, error):
        settled.append((item, result, error))
        threads.add(threading.current_thread())

    lane.send(calls, ["a1", "a2", "a3"], settle)
    lane.send(calls, ["b1", "b2"], settle)
    calls.wait_for(lambda c: {"a1", "a2"} <= c.running, "the first chunk's calls to fill the pool")
    calls.release["a1"].set()
    # a3 (the first chunk's last call) starts; b1 may start only when a thread is free again
    calls.wait_for(lambda c: "a3" in c.running, "the first chunk's last call to start")
    calls.release["a2"].set()
    calls.wait_for(lambda c: "b1" in c.running, "the second chunk to start while the first still runs a3")
    assert "a3" in calls.running  # no tail: b1 runs beside the first chunk's last call
    for event in calls.release.values():
        event.set()
    lane.finish()

    assert calls.most == WORKERS
    assert sorted(item for item, _, _ in settled) == ["a1", "a2", "a3", "b1", "b2"]
    assert all(result == item.upper() and error is None for item, result, error in settled)
    assert threads == {threading.main_thread()}


def test_a_failed_check_starts_no_more_calls_and_settles_those_that_started(client):
    calls, settled = Calls(), []
    lost, noticed = threading.Event(), threading.Event()

    def check():
        if lost.is_set():
            noticed.set()
            raise RuntimeError("another run took over the lease")

    def answer_once_noticed():
        assert noticed.wait(30), "the lane never checked again"
        calls.release["a1"].set()
        calls.release["a2"].set()

    lane = Lane(client, check=check)
    lane.send(calls, ["a1", "a2", "a3"], lambda item, result, error: settled.append(item))
    calls.wait_for(lambda c: {"a1", "a2"} <= c.running, "the first two calls to run")
    lost.set()  # the lease is taken over while a1 and a2 are in the CRM
    threading.Thread(target=answer_once_noticed, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match="took over the lease"):
            lane.finish()  # checks while it waits for the answers
    finally:
        calls.release["a3"].set()

    assert "a3" not in calls.started  # never sent: it stays queued for the lease's new holder
    assert sorted(settled) == ["a1", "a2"]  # what reached the CRM is recorded


def test_every_map_concurrent_of_a_client_shares_its_pool(client):
    calls = Calls()
    results: list[list] = []
    runners = [threading.Thread(target=lambda names=names: results.append(list(client.map_concurrent(calls, names))))
               for names in (["a1", "a2"], ["b1", "b2"])]
    for runner in runners:
        runner.start()
    calls.wait_for(lambda c: len(c.running) == WORKERS, "the pool to fill")
    for event in calls.release.values():
        event.set()
    for runner in runners:
        runner.join(30)
    assert calls.most == WORKERS  # two callers, one bound
    assert sorted(item for batch in results for item, _, _ in batch) == ["a1", "a2", "b1", "b2"]
