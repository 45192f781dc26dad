"""The Tadbir databases the writer tests write into: the demo company 100, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tadbir_demo import fill_company
from throwaway_pg import BACKENDS, pg_database


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> Iterator[str]:
    """An empty database on SQLite or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tadbir.sqlite'}"
        return
    with pg_database("hamgam_tadbir_test") as url:
        yield url


@pytest.fixture
def tadbir_url(empty_url) -> str:
    """A demo Tadbir database (company 100) on SQLite or on a fresh PostgreSQL database."""
    engine = sa.create_engine(empty_url)
    fill_company(engine, 100)
    engine.dispose()
    return empty_url


@pytest.fixture
def tadbir(tadbir_url) -> Iterator[sa.Engine]:
    engine = sa.create_engine(tadbir_url)
    yield engine
    engine.dispose()
