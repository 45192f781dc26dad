"""The change trigger against real Tadbir databases (SQLite and the local PostgreSQL), with the real probe
(``hamgam.tadbir.changes.probe_token``) and the connection resolved from the Airflow connection: a save fires
it; a database that cannot be reached, goes away, or holds a lock past the probe's time-out is logged once per
state change while polling goes on, and the trigger fires again once the database is back."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil

import psycopg
import pytest
import sqlalchemy as sa
from change_world import fill_base, update

from async_wait import WAIT, until
from hamgam.tadbir import schema
from hamgam.triggers import TadbirChangeTrigger
from throwaway_pg import PG_ADMIN, pg_database


class Counted(TadbirChangeTrigger):
    ticks = 0

    async def probe_once(self) -> str:
        self.ticks += 1
        return await super().probe_once()


def point_tadbir_at(monkeypatch, url: str) -> None:
    """The default company's Airflow connection (``tadbir_default``) → ``url``."""
    monkeypatch.setenv("AIRFLOW_CONN_TADBIR_DEFAULT", json.dumps({"conn_type": "generic",
                                                                  "extra": {"sqlalchemy_url": url}}))


def make_trigger() -> Counted:
    return Counted(entity="identities", company=100, interval=0.05, timeout=1.0)



async def stop(events, pending) -> None:
    if not pending.done():
        pending.cancel()
        try:
            await pending
        except asyncio.CancelledError:
            pass
    await events.aclose()


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hamgam.triggers" and r.levelno == logging.WARNING]


def recoveries(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hamgam.triggers" and "answers again" in r.getMessage()]


async def quiet_for(trigger: Counted, pending, ticks: int) -> None:
    """``ticks`` more probes, and no event meanwhile."""
    seen = trigger.ticks
    await until(lambda: trigger.ticks >= seen + ticks or pending.done(), f"{ticks} probes")
    assert not pending.done(), "fired although nothing changed"


def test_a_database_that_is_not_there_yet_is_logged_once_and_watched_once_it_is(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="hamgam.triggers")
    built = tmp_path / "built.sqlite"
    engine = sa.create_engine(f"sqlite:///{built}")
    fill_base(engine)
    engine.dispose()
    target = tmp_path / "not-mounted-yet" / "tadbir.sqlite"
    point_tadbir_at(monkeypatch, f"sqlite:///{target}")

    async def scenario():
        trigger = make_trigger()
        events = trigger.run()
        pending = asyncio.ensure_future(anext(events))
        await quiet_for(trigger, pending, 10)
        assert len(warnings(caplog)) == 1 and "unable to open database file" in warnings(caplog)[0]
        target.parent.mkdir()
        shutil.copy(built, target)  # the share is mounted: the database is there
        event = await asyncio.wait_for(pending, WAIT)
        assert event.payload["first"] is True and recoveries(caplog)
        pending = asyncio.ensure_future(anext(events))
        await quiet_for(trigger, pending, 5)
        update(sa.create_engine(f"sqlite:///{target}"), schema.customer, 2, 2, Name="نام تازه")
        assert (await asyncio.wait_for(pending, WAIT)).payload["first"] is False
        await events.aclose()

    asyncio.run(scenario())
    assert len(warnings(caplog)) == 1


def _sqlite_lock(url: str):
    """A writer holding an exclusive lock (a long Tadbir transaction): readers wait, then give up."""
    conn = sa.create_engine(url).raw_connection()
    conn.driver_connection.isolation_level = None
    conn.driver_connection.execute("BEGIN EXCLUSIVE")
    return lambda: (conn.driver_connection.execute("ROLLBACK"), conn.close())


def _pg_lock(url: str):
    conn = psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    conn.execute('LOCK TABLE "__Customer__" IN ACCESS EXCLUSIVE MODE')
    return lambda: (conn.rollback(), conn.close())


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)])
def tadbir_url(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tadbir.sqlite'}"
        engine = sa.create_engine(url)
        fill_base(engine)
        engine.dispose()
        point_tadbir_at(monkeypatch, url)
        yield url
        return
    with pg_database("hamgam_trigger_test") as url:
        engine = sa.create_engine(url)
        fill_base(engine)
        engine.dispose()
        point_tadbir_at(monkeypatch, url)
        yield url


def test_a_lock_held_past_the_time_out_is_logged_once_and_polling_goes_on(tadbir_url, caplog):
    caplog.set_level(logging.INFO, logger="hamgam.triggers")
    lock = _sqlite_lock if tadbir_url.startswith("sqlite") else _pg_lock

    async def scenario():
        trigger = make_trigger()
        events = trigger.run()
        assert (await asyncio.wait_for(anext(events), WAIT)).payload["first"] is True
        pending = asyncio.ensure_future(anext(events))
        release = await asyncio.to_thread(lock, tadbir_url)
        try:
            seen = trigger.ticks
            await until(lambda: len(warnings(caplog)) >= 1 and trigger.ticks >= seen + 4, "failed probes")
            assert not pending.done()
        finally:
            await asyncio.to_thread(release)
        await until(lambda: recoveries(caplog), "the probe answering again")
        await quiet_for(trigger, pending, 5)
        update(sa.create_engine(tadbir_url), schema.customer, 3, 2, Name="زاگرس جنوبی")
        assert (await asyncio.wait_for(pending, WAIT)).payload["first"] is False
        await events.aclose()

    asyncio.run(scenario())
    assert 1 <= len(warnings(caplog)) <= 2, warnings(caplog)  # a time-out (and maybe the server's own) only


@pytest.mark.postgres
def test_a_server_that_goes_away_and_comes_back(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="hamgam.triggers")
    with pg_database("hamgam_trigger_test") as url:
        engine = sa.create_engine(url)
        fill_base(engine)
        engine.dispose()
        point_tadbir_at(monkeypatch, url)
        name = sa.make_url(url).database

        def admin(*statements: str) -> None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                for statement in statements:
                    conn.execute(statement)

        async def scenario():
            trigger = make_trigger()
            events = trigger.run()
            assert (await asyncio.wait_for(anext(events), WAIT)).payload["first"] is True
            pending = asyncio.ensure_future(anext(events))
            await asyncio.to_thread(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
                                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            seen = trigger.ticks
            await until(lambda: warnings(caplog) and trigger.ticks >= seen + 20, "twenty probes while it is gone")
            assert len(warnings(caplog)) == 1 and "OperationalError" in warnings(caplog)[0], warnings(caplog)
            assert not pending.done()
            await asyncio.to_thread(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await until(lambda: recoveries(caplog), "the probe answering again")
            await quiet_for(trigger, pending, 5)
            update(sa.create_engine(url), schema.customer, 1, 2, Name="پارس نو")
            assert (await asyncio.wait_for(pending, WAIT)).payload["first"] is False
            await events.aclose()

        asyncio.run(scenario())
        assert len(warnings(caplog)) == 1
