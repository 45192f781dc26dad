"""Throwaway PostgreSQL databases for tests: the server at 127.0.0.1:5432 (user postgres), one new database
per use, dropped afterwards; a test is skipped when the server does not answer."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@functools.cache
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers (asked once per session)."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}"


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A new, empty database named ``<prefix>_<random>``, dropped afterwards; yields its SQLAlchemy URL."""
    problem = pg_problem()
    if problem:
        pytest.skip(problem)
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
