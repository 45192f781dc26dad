"""The compose file's airflow-init script run for real: real Airflow (the project's environment) on a real
PostgreSQL, with the init service's environment as Compose gives it (config/airflow.env, then the service's own
variables from .env.example) and only the hosts and database names pointed at throwaway databases here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from compose_files import AIRFLOW_ENV as SHARED_FILE
from compose_files import ENV_EXAMPLE, ROOT, compose_with, read_env_file

from hamgam.dagbuilder import CRM_POOL
from hamgam.ledger.migrate_command import current_revision, head_revision
from throwaway_pg import pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_init_script_migrates_airflow_and_the_ledger_and_creates_the_pool(tmp_path):
    init = compose_with(read_env_file(ENV_EXAMPLE))["services"]["airflow-init"]
    shared = read_env_file(SHARED_FILE)
    with pg_database("hamgam_init_airflow") as airflow_url, pg_database("hamgam_init_ledger") as ledger_url:
        ledger = sa.make_url(ledger_url)
        env = {
            **shared, **init["environment"],
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": str(tmp_path),
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sa.make_url(airflow_url).set(
                drivername="postgresql+psycopg2").render_as_string(hide_password=False),
            "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
            "AIRFLOW_CONN_HAMGAM_STATE": json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432,
                                                     "schema": ledger.database, "login": "postgres"}),
            "HAMGAM_CONFIG": str(ROOT / "config" / "hamgam.yaml"),  # /opt/hamgam/config in the image
        }
        done = subprocess.run(init["command"], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"ledger (hamgam_state): revision {head_revision()} (was none)" in done.stdout

        assert current_revision(ledger_url) == head_revision()
        pool = subprocess.run(["airflow", "pools", "get", CRM_POOL, "-o", "json"], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
        assert pool.returncode == 0, pool.stderr[-3000:]
        (row,) = json.loads(pool.stdout[pool.stdout.index("["):])
        assert int(row["slots"]) == int(shared["HAMGAM_CRM_POOL_SLOTS"])
