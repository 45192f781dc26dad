"""deploy/postgres-init/10-hamgam-state.sh, run as the postgres image runs it at first start (bash, psql, the
image's POSTGRES_* variables), against the local PostgreSQL with names of its own; then the ledger migrates into
the database it created."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import psycopg
import pytest
from compose_files import ROOT

from hamgam.ledger.migrate import upgrade
from hamgam.ledger.migrate_command import current_revision, head_revision
from throwaway_pg import PG_ADMIN, PG_URL, pg_problem

SCRIPT = ROOT / "deploy" / "postgres-init" / "10-hamgam-state.sh"

pytestmark = pytest.mark.postgres


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "PGHOST": "127.0.0.1", "PGPORT": "5432", "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres"}
    return subprocess.run(["bash", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture
def names():
    if pg_problem():
        pytest.skip(pg_problem())
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    suffix = uuid.uuid4().hex[:10]
    user, db = f"hamgam_init_u_{suffix}", f"hamgam_init_db_{suffix}"
    yield user, db
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{user}"')


def test_the_init_script_creates_the_ledger_database_owned_by_its_login(names):
    user, db = names
    done = run_script({"HAMGAM_STATE_USER": user, "HAMGAM_STATE_DB": db, "HAMGAM_STATE_PASSWORD": "it's-a-secret"})
    assert done.returncode == 0, done.stderr
    with psycopg.connect(PG_ADMIN) as admin:
        owner, encoding = admin.execute("SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database "
                                        "WHERE datname = %s", (db,)).fetchone()
        can_login = admin.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (user,)).fetchone()[0]
    assert (owner, encoding, can_login) == (user, "UTF8", True)
    url = PG_URL.format(name=db).replace("postgres@", f"{user}@")
    upgrade(url)  # as the ledger's own login: it owns the database, so it can create the tables
    assert current_revision(url) == head_revision()


def test_the_init_script_refuses_to_run_without_the_password(names):
    user, db = names
    done = run_script({"HAMGAM_STATE_USER": user, "HAMGAM_STATE_DB": db})
    assert done.returncode != 0
    assert "HAMGAM_STATE_PASSWORD is not set" in done.stderr
