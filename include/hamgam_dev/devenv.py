"""The project's own Airflow settings and demo connections, as environment variables.

Used by the demo, `make up`, `make airflow ARGS=...` and the tests, so all of them run Airflow the
same way: AIRFLOW_HOME inside the project, our dags/ and plugins/, no examples, a small executor
(``hamgam.executor.WarmLocalExecutor``: Airflow's LocalExecutor whose task processes start with Great
Expectations and the task code already imported).
`python -m hamgam_dev.devenv` prints them as shell exports.

``airflow_env(..., executor="celery", ...)`` is the distributed shape (`make stack`): the settings every
distributed deployment shares come from config/airflow.env (the file docker-compose.yaml reads as its
env_file, read here by ``read_env_file``), and this host's own are added: PostgreSQL for the metadata
database, the Celery result backend and the ledger, Redis as the broker, one JWT secret for every process.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
DEMO_USER, DEMO_PASSWORD = "hamgam", "hamgam-demo"  # the local sandbox's demo login, not a real secret
DEMO_WEBHOOK_SECRET = "hamgam-demo-webhook"  # what the demo's sandbox puts in its webhook URLs
SANDBOX_PORT = 8765
SHARED_SETTINGS = ROOT / "config" / "airflow.env"  # what every distributed deployment shares (compose, make stack)
PG_HOST = "postgresql://postgres@127.0.0.1:5432"  # this machine's PostgreSQL (trust auth)
REDIS_URL = "redis://127.0.0.1:6379/0"


def read_env_file(path: Path = SHARED_SETTINGS) -> dict[str, str]:
    """``KEY=VALUE`` lines as compose's env_file reads them: blank lines and ``#`` comment lines skipped,
    the value taken as written (no quotes stripped, no expansion), whitespace around the key ignored."""
    settings: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: not a KEY=VALUE line: {line!r}")
        settings[key.strip()] = value
    return settings


def _database_name(url: str) -> tuple[str, str]:
    """(``user@host:port`` part, database) of a ``postgresql://`` URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise ValueError(f"{url!r} is not a postgresql:// URL")
    server, _, database = rest.partition("/")
    if not database:
        raise ValueError(f"{url!r} names no database")
    return server, database


def celery_settings(metadata_url: str, broker_url: str, jwt_secret: str) -> dict[str, str]:
    """This host's part of the distributed shape: the metadata database through psycopg2 (Airflow's
    default driver), the Celery result backend in the same database, the broker, the JWT secret every
    process signs and checks the execution API's tokens with."""
    server, database = _database_name(metadata_url)
    return {
        **read_env_file(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{server}/{database}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{server}/{database}",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
    }


def airflow_env(data_dir: Path, *, sandbox_url: str = f"http://127.0.0.1:{SANDBOX_PORT}",
                smtp_port: int = 8025, airflow_home: Path | None = None, crm_max_attempts: int = 5,
                companies: tuple[int, ...] = (100, 200), executor: Literal["local", "celery"] = "local",
                metadata_url: str | None = None, ledger_url: str | None = None, broker_url: str = REDIS_URL,
                parallelism: int | None = None, jwt_secret: str | None = None) -> dict[str, str]:
    """The environment of every Airflow process (and of the tools that read the same connections).

    executor "local" (the default: the demo, the tests, `make up`) is today's one-machine shape: SQLite for
    the metadata (``metadata_url``) and the ledger (``ledger_url``), hamgam's WarmLocalExecutor. "celery"
    is the distributed shape (see the module); ``metadata_url`` is then required (``postgresql://...``),
    ``ledger_url`` a ``postgresql://`` URL of the ledger database (default: SQLite, as today) and
    ``jwt_secret`` a new random one unless given (every process of one deployment needs the same).
    """
    if executor not in ("local", "celery"):
        raise ValueError(f"executor {executor!r}: 'local' or 'celery'")
    data_dir = Path(data_dir).resolve()
    home = Path(airflow_home or ROOT / ".airflow").resolve()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTOR": "hamgam.executor.WarmLocalExecutor",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Tehran",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # the connection form's Test button (a `payamgostar` connection runs hamgam check's CRM rows)
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "HAMGAM_CONFIG": os.environ.get("HAMGAM_CONFIG", str(ROOT / "config" / "hamgam.yaml")),
        "GX_ANALYTICS_ENABLED": "False",
        "AIRFLOW_CONN_HAMGAM_STATE": json.dumps({"conn_type": "sqlite",
                                                 "host": str(data_dir / "hamgam_state.sqlite")}),
        "AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT": json.dumps({
            "conn_type": "http", "host": sandbox_url, "login": DEMO_USER, "password": DEMO_PASSWORD,
            "extra": {"timeout": 30, "max_attempts": crm_max_attempts}}),
        "AIRFLOW_CONN_HAMGAM_WEBHOOK": json.dumps({"conn_type": "generic", "password": DEMO_WEBHOOK_SECRET}),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}),
    }
    if ledger_url:
        server, database = _database_name(ledger_url)
        login, _, host = server.rpartition("@")
        host, _, port = host.partition(":")
        env["AIRFLOW_CONN_HAMGAM_STATE"] = json.dumps({"conn_type": "postgres", "host": host, "port": int(port or 5432),
                                                        "login": login or None, "schema": database})
    if executor == "celery":
        if not metadata_url:
            raise ValueError("executor 'celery' needs metadata_url (postgresql://...): SQLite serves one machine")
        env.update(celery_settings(metadata_url, broker_url, jwt_secret or secrets.token_urlsafe(32)))
    elif metadata_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
    if parallelism is not None:
        env["AIRFLOW__CORE__PARALLELISM"] = str(parallelism)
    for index, code in enumerate(companies):
        conn_id = "TADBIR_DEFAULT" if index == 0 else f"TADBIR_{code}"
        env[f"AIRFLOW_CONN_{conn_id}"] = json.dumps(
            {"conn_type": "sqlite", "host": str(data_dir / "demo" / f"tadbir_{code}.sqlite")})
    return env


def main() -> None:
    for key, value in airflow_env(ROOT / "data").items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
