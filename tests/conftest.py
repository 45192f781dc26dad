"""Session settings shared by every test.

Airflow reads its settings when it is first imported, so they are set here, before any test module
imports it: a temporary AIRFLOW_HOME, the project's dags/ and plugins/, no examples.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hamgam_dev.devenv import airflow_env

SESSION_DIR = Path(tempfile.mkdtemp(prefix="hamgam-tests-"))
os.environ.update(airflow_env(SESSION_DIR / "data", airflow_home=SESSION_DIR / "airflow"))


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("HAMGAM_REQUIRE_POSTGRES") == "1":
        import psycopg

        try:
            psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3").close()
        except psycopg.Error as exc:
            pytest.exit(f"HAMGAM_REQUIRE_POSTGRES=1 but PostgreSQL at 127.0.0.1:5432 does not answer: {exc}", 1)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database for this session (`airflow db migrate`, run once)."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return Path(os.environ["AIRFLOW_HOME"])
