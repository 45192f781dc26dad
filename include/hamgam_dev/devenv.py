"""The project's own Airflow settings and demo connections, as environment variables.

Used by the demo, `make up`, `make airflow ARGS=...` and the tests, so all of them run Airflow the
same way: AIRFLOW_HOME inside the project, our dags/ and plugins/, no examples, a small executor
(``hamgam.executor.WarmLocalExecutor``: Airflow's LocalExecutor whose task processes start with Great
Expectations and the task code already imported).
`python -m hamgam_dev.devenv` prints them as shell exports.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_USER, DEMO_PASSWORD = "hamgam", "hamgam-demo"  # the local sandbox's demo login, not a real secret
DEMO_WEBHOOK_SECRET = "hamgam-demo-webhook"  # what the demo's sandbox puts in its webhook URLs
SANDBOX_PORT = 8765


def airflow_env(data_dir: Path, *, sandbox_url: str = f"http://127.0.0.1:{SANDBOX_PORT}",
                smtp_port: int = 8025, airflow_home: Path | None = None, crm_max_attempts: int = 5,
                companies: tuple[int, ...] = (100, 200)) -> dict[str, str]:
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
