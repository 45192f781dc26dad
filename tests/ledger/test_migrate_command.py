"""``python -m hamgam migrate``: the deployment's explicit ledger migration, run as the init service runs it (a
subprocess reading the ``hamgam_state`` connection from the environment), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from hamgam.ledger.db import make_engine
from hamgam.ledger.migrate_command import head_revision
from throwaway_pg import BACKENDS, pg_database

SECRET = "ledger-pw-9f3c"  # must never appear in the command's output


def migrate(connection: dict) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRFLOW_CONN_HAMGAM_STATE": json.dumps(connection)}
    return subprocess.run([sys.executable, "-m", "hamgam", "migrate"], env=env, capture_output=True, text=True,
                          timeout=300)


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def ledger(request, tmp_path):
    """(connection as the environment gives it, the SQLAlchemy URL of the same database)."""
    if request.param == "sqlite":
        path = tmp_path / "hamgam_state.sqlite"
        yield {"conn_type": "sqlite", "host": str(path)}, f"sqlite:///{path}"
        return
    with pg_database("hamgam_migrate_cmd") as url:
        name = sa.make_url(url).database
        yield ({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "schema": name, "login": "postgres",
                "password": SECRET}, url)


def test_migrate_creates_the_ledger_then_finds_nothing_to_do(ledger):
    connection, url = ledger
    head = head_revision()

    first = migrate(connection)
    assert first.returncode == 0, first.stderr
    assert "ledger (hamgam_state, " in first.stdout
    assert f"revision none, latest {head}" in first.stdout
    assert f"ledger (hamgam_state): revision {head} (was none)" in first.stdout
    assert {"alembic_version", "sync_record", "pending_change", "crm_send_mark"} <= tables(url)

    again = migrate(connection)
    assert again.returncode == 0, again.stderr
    assert f"revision {head}, latest {head}" in again.stdout
    assert f"revision {head} (unchanged)" in again.stdout
    assert SECRET not in first.stdout + first.stderr + again.stdout + again.stderr


def test_migrate_names_the_connection_it_cannot_find():
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONN_NO_SUCH_LEDGER"}
    done = subprocess.run([sys.executable, "-m", "hamgam", "migrate", "--conn-id", "no_such_ledger"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "the Airflow connection 'no_such_ledger' (the ledger) is not defined" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_migrate_names_the_ledger_it_cannot_reach_without_its_password():
    done = migrate({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
                    "password": SECRET, "schema": "hamgam_no_such_database_3f9a"})
    assert done.returncode == 1
    assert "cannot reach the ledger (hamgam_state, postgresql+psycopg://postgres:***@127.0.0.1:5432/" in done.stderr
    assert 'database "hamgam_no_such_database_3f9a" does not exist' in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout
