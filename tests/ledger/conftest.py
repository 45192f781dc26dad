"""Ledger fixtures: every test runs on SQLite (a temporary file) and on PostgreSQL (127.0.0.1:5432).

PostgreSQL tests share one fresh database per test module (emptied after each test); tests that need
an empty database (migrations) get one of their own from ``fresh_db_url``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, inspect

from hamgam.ledger import Base, Ledger, make_engine
from throwaway_pg import BACKENDS, pg_database


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    with pg_database("hamgam_ledger_test") as url:
        yield url


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        existing = set(inspect(engine).get_table_names())
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in existing:
                    conn.execute(delete(table))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A ledger database URL, shared with other tests of the module on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("pg_module_url")
        yield url
        _empty_tables(url)


@pytest.fixture(params=BACKENDS)
def new_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], str]]:
    """A factory of empty databases (no schema yet), all dropped after the test; returns their URLs."""
    with ExitStack() as stack:
        def new() -> str:
            if request.param == "sqlite":
                return f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:8]}.db'}"
            return stack.enter_context(pg_database("hamgam_ledger_test"))

        yield new


@pytest.fixture
def fresh_db_url(new_database: Callable[[], str]) -> str:
    """The URL of an empty database of its own (no schema yet)."""
    return new_database()


class FakeClock:
    """A settable UTC clock for the ledger (lease expiry, run ordering)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 21, 8, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(db_url: str, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger.connect(db_url, clock=clock) as opened:
        yield opened
