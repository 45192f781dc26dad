"""The Tadbir change trigger's mechanics, with an injected probe: it fires when the token changes and
only then, survives every failure of the probe (logged once per state change), never runs two probes
of one watcher at once, and picks up where it left off through the asset state store."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import types

import pytest

from async_wait import WAIT, until
from hamgam.triggers import TadbirChangeTrigger, asset_uri


class FakeProbe:
    """What the trigger reads: a token, an error to raise, or a gate that holds the call."""

    def __init__(self) -> None:
        self.token = "t0"
        self.error: BaseException | None = None
        self.gate: threading.Event | None = None
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def __call__(self, engine, spec, ctx) -> str:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if self.gate is not None:
                self.gate.wait(WAIT)
            if self.error is not None:
                raise self.error
            return self.token
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def probe(monkeypatch) -> FakeProbe:
    fake = FakeProbe()
    module = types.ModuleType("hamgam_fake_probe")
    module.probe_token = fake
    monkeypatch.setitem(sys.modules, "hamgam_fake_probe", module)
    return fake


class Trigger(TadbirChangeTrigger):
    """The real trigger with the database part resolved to nothing: the probe gets no engine."""

    ticks = 0

    def _resolve(self):
        from hamgam.triggers import _import

        return _import(self.probe), None, None, None

    async def probe_once(self) -> str:
        self.ticks += 1
        return await super().probe_once()


def make(probe: FakeProbe | None = None, **kwargs) -> Trigger:
    return Trigger(entity="identities", company=100, interval=kwargs.pop("interval", 0.01),
                   timeout=kwargs.pop("timeout", 5.0), probe="hamgam_fake_probe.probe_token", **kwargs)



async def stop(events, pending=None) -> None:
    """End the trigger as the triggerer does: cancel the waiting step, then close the generator."""
    if pending is not None and not pending.done():
        pending.cancel()
        try:
            await pending
        except asyncio.CancelledError:
            pass
    await events.aclose()


async def next_event(events):
    return await asyncio.wait_for(anext(events), WAIT)


def run(coro):
    return asyncio.run(coro)


def test_fires_once_per_change_and_stays_quiet_while_nothing_changes(probe):
    async def scenario():
        events = make(probe).run()
        first = await next_event(events)  # a watcher that never saw a token fires on its first probe
        assert first.payload["first"] is True
        assert (first.payload["entity"], first.payload["company"]) == ("identities", 100)
        pending = asyncio.ensure_future(anext(events))
        seen = probe.calls
        await until(lambda: probe.calls >= seen + 5, "five more probes")
        assert not pending.done(), "fired although the token did not change"
        probe.token = "t1"
        second = await asyncio.wait_for(pending, WAIT)
        assert second.payload["first"] is False and second.payload["digest"] != first.payload["digest"]
        probe.token = "t0"  # back to an earlier value is a change too
        third = await next_event(events)
        assert third.payload["digest"] == first.payload["digest"]
        await stop(events)

    run(scenario())


def test_a_failing_probe_is_logged_once_per_state_change_and_polling_goes_on(probe, caplog):
    caplog.set_level(logging.INFO, logger="hamgam.triggers")

    def logged(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "hamgam.triggers" and r.levelno == level]

    async def scenario():
        events = make(probe).run()
        await next_event(events)
        pending = asyncio.ensure_future(anext(events))
        probe.error = ConnectionRefusedError("connection refused by tadbir-sql:1433")
        seen = probe.calls
        await until(lambda: probe.calls >= seen + 10, "ten failed probes")
        assert len(logged(logging.WARNING)) == 1
        assert "ConnectionRefusedError: connection refused by tadbir-sql:1433" in logged(logging.WARNING)[0]
        probe.error = OSError("network unreachable")  # another kind of failure: logged again, once
        seen = probe.calls
        await until(lambda: probe.calls >= seen + 10, "ten more failed probes")
        assert len(logged(logging.WARNING)) == 2 and "OSError" in logged(logging.WARNING)[1]
        probe.token, probe.error = "changed while it was down", None
        event = await asyncio.wait_for(pending, WAIT)  # recovered: the change made meanwhile fires
        assert event.payload["first"] is False
        assert len([m for m in logged(logging.INFO) if "answers again after" in m]) == 1
        pending = asyncio.ensure_future(anext(events))
        seen = probe.calls
        await until(lambda: probe.calls >= seen + 5, "five good probes")
        assert len(logged(logging.WARNING)) == 2  # nothing more while it is healthy
        await stop(events, pending)

    run(scenario())


def test_a_probe_that_cannot_even_load_keeps_polling(caplog):
    caplog.set_level(logging.WARNING, logger="hamgam.triggers")
    trigger = TadbirChangeTrigger(entity="identities", company=100, interval=0.01, timeout=5,
                                  probe="hamgam_no_such_module.probe_token")
    attempts = 0
    real = trigger.read_token

    def counted():
        nonlocal attempts
        attempts += 1
        return real()

    trigger.read_token = counted

    async def scenario():
        events = trigger.run()
        pending = asyncio.ensure_future(anext(events))
        await until(lambda: attempts >= 5, "five attempts")
        assert not pending.done()
        await stop(events, pending)

    run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.name == "hamgam.triggers"]
    assert len(warnings) == 1 and "ModuleNotFoundError" in warnings[0]


def test_a_hung_probe_times_out_once_and_never_piles_up_calls(probe, caplog):
    caplog.set_level(logging.INFO, logger="hamgam.triggers")

    async def scenario():
        trigger = make(probe, timeout=0.05)
        events = trigger.run()
        await next_event(events)
        probe.gate = threading.Event()  # the next call hangs, like a server that stopped answering
        pending = asyncio.ensure_future(anext(events))
        await until(lambda: any("ProbeTimeout" in r.getMessage() for r in caplog.records), "the time-out")
        calls = probe.calls
        # several more ticks time out on the same call: no new call starts while it hangs
        ticks = trigger.ticks
        await until(lambda: trigger.ticks >= ticks + 5, "five more ticks")
        assert probe.calls == calls and probe.most_running == 1
        assert sum("ProbeTimeout" in r.getMessage() for r in caplog.records) == 1
        probe.token = "t1"
        probe.gate.set()  # the server answers again
        event = await asyncio.wait_for(pending, WAIT)
        assert event.payload["first"] is False
        await events.aclose()

    run(scenario())


class FakeStore:
    def __init__(self, values=None) -> None:
        self.values = dict(values or {})

    async def aget(self, key, default=None):
        return self.values.get(key, default)

    async def aset(self, key, value):
        self.values[key] = value


class BrokenStore:
    async def aget(self, key, default=None):
        raise RuntimeError("API server unreachable")

    async def aset(self, key, value):
        raise RuntimeError("API server unreachable")


def test_the_last_token_survives_a_restart_through_the_asset_state_store(probe):
    store = FakeStore()

    async def first_life():
        trigger = make(probe)
        trigger.asset_state_store = store
        events = trigger.run()
        await next_event(events)
        pending = asyncio.ensure_future(anext(events))  # resumed after the event: it keeps the token
        await until(lambda: store.values, "the token kept")
        await stop(events, pending)

    async def second_life(expect_event: bool):
        trigger = make(probe)
        trigger.asset_state_store = store
        events = trigger.run()
        pending = asyncio.ensure_future(anext(events))
        seen = probe.calls
        await until(lambda: probe.calls >= seen + 5 or pending.done(), "five probes")
        fired = pending.done()
        await stop(events, pending)
        assert fired is expect_event

    run(first_life())
    assert list(store.values) == ["probe_token:100"]
    run(second_life(expect_event=False))  # restarted, nothing changed: no run
    probe.token = "changed while no triggerer ran"
    run(second_life(expect_event=True))


def test_a_broken_state_store_only_costs_the_memory_of_the_last_token(probe, caplog):
    caplog.set_level(logging.WARNING, logger="hamgam.triggers")

    async def scenario():
        trigger = make(probe)
        trigger.asset_state_store = BrokenStore()
        events = trigger.run()
        assert (await next_event(events)).payload["first"] is True
        probe.token = "t1"
        assert (await next_event(events)).payload["first"] is False
        await events.aclose()

    run(scenario())
    assert any("cannot read the last token" in r.getMessage() for r in caplog.records)


def test_serializes_to_an_importable_classpath_and_the_same_kwargs():
    from airflow.triggers.base import BaseEventTrigger

    from hamgam.triggers import _import

    trigger = TadbirChangeTrigger(entity="sales_invoices", company=200, interval=2, timeout=7)
    classpath, kwargs = trigger.serialize()
    assert classpath == "hamgam.triggers.TadbirChangeTrigger"
    again = _import(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*again.serialize())
    assert asset_uri("sales_invoices") == "hamgam://tadbir/sales_invoices"


def test_a_slow_probe_is_asked_less_often_so_tadbir_stays_free():
    trigger = TadbirChangeTrigger(entity="sales_invoices", company=100, interval=1.0)
    assert trigger.pause(0.05) == pytest.approx(0.95)  # fast: the rest of the interval
    assert trigger.pause(0.5) == pytest.approx(4.5)  # slow: at most a tenth of the time probing
    assert trigger.pause(3.0) == pytest.approx(27.0)
