"""``python -m hamgam migrate``: the deployment's explicit ledger migration, reading the ``hamgam_state`` connection
from the environment as the init service does, on SQLite and on PostgreSQL. One run goes through a real
``python -m hamgam`` process; the others call the same ``main`` in this process (an Airflow import less each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from hamgam.__main__ import main
from hamgam.ledger.db import make_engine
from hamgam.ledger.migrate_command import head_revision
from throwaway_pg import BACKENDS, pg_database

SECRET = "ledger-pw-9f3c"  # must never appear in the command's output


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
        yield ({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "schema": sa.make_url(url).database,
                "login": "postgres", "password": SECRET}, url)


def test_migrate_creates_the_ledger_then_finds_nothing_to_do(ledger, monkeypatch, capsys):
    connection, url = ledger
    head = head_revision()
    monkeypatch.setenv("AIRFLOW_CONN_HAMGAM_STATE", json.dumps(connection))

    assert main(["migrate"]) == 0
    first = capsys.readouterr()
    assert "ledger (hamgam_state, " in first.out
    assert f"revision none, latest {head}" in first.out
    assert f"ledger (hamgam_state): revision {head} (was none)" in first.out
    assert {"alembic_version", "sync_record", "pending_change", "crm_send_mark"} <= tables(url)

    assert main(["migrate"]) == 0
    again = capsys.readouterr()
    assert f"revision {head}, latest {head}" in again.out
    assert f"revision {head} (unchanged)" in again.out
    assert SECRET not in first.out + first.err + again.out + again.err


def test_python_dash_m_hamgam_migrate_runs_as_the_init_service_runs_it(tmp_path):
    path = tmp_path / "hamgam_state.sqlite"
    env = {**os.environ, "AIRFLOW_CONN_HAMGAM_STATE": json.dumps({"conn_type": "sqlite", "host": str(path)})}
    done = subprocess.run([sys.executable, "-m", "hamgam", "migrate"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"ledger (hamgam_state): revision {head_revision()} (was none)" in done.stdout
    assert "sync_record" in tables(f"sqlite:///{path}")


def test_migrate_names_the_connection_it_cannot_find(monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_LEDGER", raising=False)
    assert main(["migrate", "--conn-id", "no_such_ledger"]) == 1
    err = capsys.readouterr().err
    assert "the Airflow connection 'no_such_ledger' (the ledger) is not defined" in err
    assert "AIRFLOW_CONN_NO_SUCH_LEDGER" in err


@pytest.mark.postgres
def test_migrate_names_the_ledger_it_cannot_reach_without_its_password(monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_HAMGAM_STATE", json.dumps({
        "conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "password": SECRET,
        "schema": "hamgam_no_such_database_3f9a"}))
    assert main(["migrate"]) == 1
    out = capsys.readouterr()
    assert "cannot reach the ledger (hamgam_state, postgresql+psycopg://postgres:***@127.0.0.1:5432/" in out.err
    assert 'database "hamgam_no_such_database_3f9a" does not exist' in out.err
    assert SECRET not in out.err + out.out
