"""docker-compose.yaml, the Dockerfile and .env.example, tied to the project's single sources so they cannot drift:
config/airflow.env (the shared Airflow settings), requirements.txt (the Airflow pin, the runtime set), the
connection ids the DAGs read (config/hamgam.yaml, hamgam's settings), the CRM pool. No Docker engine runs here:
the compose file is validated against the Compose Specification's JSON schema (tests/deploy/vendor/), and by
Debian's docker-compose when it is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from compose_files import (
    AIRFLOW_ENV,
    COMPOSE,
    ENV_EXAMPLE,
    ROOT,
    airflow_services,
    compose_raw,
    compose_with,
    dockerfile_stages,
    in_build_context,
    interpolate,
    read_env_file,
    variables_used,
)

from hamgam.config import parse_config
from hamgam.dagbuilder import CRM_POOL
from hamgam.webapp.events import WEBHOOK_CONN_ID
from hamgam_dev import up
from tadbir_demo.load import company_url

SCHEMA = json.loads((Path(__file__).parent / "vendor" / "compose_spec.json").read_text(encoding="utf-8"))
EXAMPLE = read_env_file(ENV_EXAMPLE)
SHARED = read_env_file(AIRFLOW_ENV)


def schema_errors(document: dict) -> list[str]:
    # as docker-compose 1.29 validates with this schema (compose/config/validation.py)
    validator = jsonschema.Draft4Validator(SCHEMA)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document))


def conn_env(service: dict) -> dict[str, str]:
    return {k: v for k, v in service["environment"].items() if k.startswith("AIRFLOW_CONN_")}


# ---- the compose file is valid ---------------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec_schema():
    assert schema_errors(compose_raw()) == []
    assert schema_errors(compose_with(EXAMPLE)) == []


def test_the_schema_check_catches_a_broken_file():
    """The validation is not vacuous: a wrong depends_on condition and an unknown service key are errors."""
    broken = compose_raw()
    broken["services"]["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] = "service_finished"
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    errors = " ".join(schema_errors(broken))
    assert "service_finished" in errors and "helthcheck" in errors


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
@pytest.mark.parametrize("profile", [[], ["--profile", "dev"]], ids=["default", "dev"])
def test_docker_compose_validates_the_file_with_env_example(profile):
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), *profile,
                           "config", "-q"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_official_shape_and_healthchecked_start_order():
    services = compose_raw()["services"]
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-worker", "airflow-init"} <= set(services)
    for name, service in airflow_services(compose_raw()).items():
        if name in ("airflow-init", "airflow-cli"):
            continue
        assert "healthcheck" in service, name
        assert service["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}, name
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    assert services["tadbir-demo-load"]["depends_on"]["mssql"] == {"condition": "service_healthy"}
    production = {name for name, s in services.items() if "dev" not in s.get("profiles", [])}
    assert {"mssql", "tadbir-demo-load", "payamgostar-sandbox"}.isdisjoint(production)


# ---- one source for each thing ---------------------------------------------------------------------------------


def test_every_airflow_service_reads_the_shared_airflow_env_and_does_not_override_it():
    services = airflow_services(compose_with(EXAMPLE))
    assert len(services) >= 7
    for name, service in services.items():
        env_files = service.get("env_file", [])
        assert "config/airflow.env" in ([env_files] if isinstance(env_files, str) else env_files), name
        # `environment` wins over `env_file` in Compose: a key set in both would silently diverge from make stack
        assert set(service.get("environment", {})).isdisjoint(SHARED), (name, set(service["environment"]) & set(SHARED))
    assert SHARED["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_every_variable_the_compose_file_uses_is_in_env_example_and_no_other():
    used = variables_used(COMPOSE.read_text(encoding="utf-8"))
    assert used - set(EXAMPLE) == set(), "used by docker-compose.yaml, missing from .env.example"
    assert set(EXAMPLE) - used == set(), "in .env.example, used nowhere in docker-compose.yaml"
    compose_with(EXAMPLE)  # no required variable left unset


def test_a_missing_secret_stops_compose_with_its_name():
    without = {k: v for k, v in EXAMPLE.items() if k != "AIRFLOW_FERNET_KEY"}
    with pytest.raises(KeyError, match="set AIRFLOW_FERNET_KEY in .env"):
        compose_with(without)


def test_secrets_and_dev_files_stay_out_of_git_and_the_build_context():
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for path in ("Dockerfile", "requirements.txt", "pyproject.toml", "config/airflow.env", "config/hamgam.yaml",
                 "dags/tadbir_to_payamgostar.py", "plugins/hamgam_plugin.py", "include/hamgam/config.py",
                 "include/pg_sandbox/app.py"):
        assert in_build_context(path), path
    for path in (".env", ".env.example", "requirements-dev.txt", "tests/conftest.py", "data/sandbox.sqlite",
                 ".venv/bin/python", ".airflow/airflow.db", ".git/HEAD", "include/hamgam/__pycache__/config.pyc",
                 "benchmarks/RESULTS.md"):
        assert not in_build_context(path), path


def test_ports_are_published_on_localhost_by_default():
    compose = compose_with({**EXAMPLE, "HAMGAM_BIND_ADDRESS": ""})
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published and all(str(p).startswith("127.0.0.1:") for p in published), published
    assert EXAMPLE["HAMGAM_BIND_ADDRESS"] == "127.0.0.1"


# ---- the image -------------------------------------------------------------------------------------------------


def airflow_pin() -> str:
    pins = re.findall(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert len(pins) == 1, pins
    return pins[0]


def test_the_image_is_the_official_slim_airflow_of_the_pinned_version():
    stages = dockerfile_stages()
    base = stages["runtime"][0]
    match = re.fullmatch(r"FROM apache/airflow:slim-(?P<airflow>[\d.]+)-python(?P<python>[\d.]+) AS runtime", base)
    assert match, base
    assert match["airflow"] == airflow_pin()
    assert match["python"] == "3.11"  # pyproject: requires-python >= 3.11, ruff target py311
    assert stages["dev"][0] == "FROM runtime AS dev"


def test_the_runtime_image_installs_requirements_txt_and_only_the_hamgam_package():
    stages = dockerfile_stages()
    runtime = stages["runtime"]
    everything = " ".join(line for lines in stages.values() for line in lines)
    assert "requirements-dev" not in everything
    installs = [line for line in runtime if line.startswith("RUN pip install")]
    assert any("-r /opt/hamgam/requirements.txt" in line for line in installs), installs
    assert "COPY --chown=airflow:0 requirements.txt /opt/hamgam/requirements.txt" in runtime
    copied = [line.split()[-2] for line in runtime if line.startswith("COPY")]
    assert [c for c in copied if c.startswith("include/")] == ["include/hamgam"]
    assert {"dags/", "plugins/", "config/"} <= set(copied)
    dev_copied = [line.split()[-2] for line in stages["dev"] if line.startswith("COPY")]
    assert set(dev_copied) == {"include/pg_sandbox", "include/tadbir_demo", "include/hamgam_dev"}
    # every package under include/ is either shipped or deliberately dev-only
    packages = {f"include/{p.name}" for p in (ROOT / "include").iterdir() if (p / "__init__.py").is_file()}
    assert packages == {"include/hamgam", *dev_copied}


def test_the_compose_services_run_the_right_stage():
    services = compose_raw()["services"]
    for name, service in airflow_services(compose_raw()).items():
        assert service["build"] == {"context": ".", "target": "runtime"}, name
    for name in ("payamgostar-sandbox", "tadbir-demo-load"):
        assert services[name]["build"] == {"context": ".", "target": "dev"}, name


# ---- connections, the ledger, the pool ---------------------------------------------------------------------------


def test_the_connections_compose_defines_are_the_ones_the_dags_read():
    config = parse_config((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    read = {c.tadbir_conn_id for c in config.companies} | {
        config.sync.crm_conn_id, config.sync.state_conn_id, config.alerts.smtp_conn_id, WEBHOOK_CONN_ID}
    for name, service in airflow_services(compose_with(EXAMPLE)).items():
        defined = {key.removeprefix("AIRFLOW_CONN_").lower() for key in conn_env(service)}
        assert defined == read, name
    assert (ROOT / "config" / "hamgam.yaml").resolve().parent.name == "config"  # mounted at /opt/hamgam/config


def test_the_compose_connections_open_as_hamgam_opens_them(monkeypatch):
    """Each connection value, as .env.example fills it in, gives hamgam the URL it should (the ledger in this
    file's PostgreSQL, each company's Tadbir in the dev SQL Server's database that the demo loader fills)."""
    from hamgam.connections import sqlalchemy_url

    compose = compose_with(EXAMPLE)
    env = compose["services"]["airflow-worker"]["environment"]
    for key, value in conn_env(compose["services"]["airflow-worker"]).items():
        json.loads(value)  # JSON, as Airflow reads it
        monkeypatch.setenv(key, value)
    assert env["HAMGAM_CONFIG"].startswith("/opt/hamgam/config/")
    mounts = compose["services"]["airflow-worker"]["volumes"]
    assert "./config:/opt/hamgam/config:ro" in mounts

    ledger = sqlalchemy_url("hamgam_state")
    assert ledger == f"postgresql+psycopg://hamgam:{EXAMPLE['HAMGAM_STATE_PASSWORD']}@postgres:5432/hamgam_state"
    loader_url = compose["services"]["tadbir-demo-load"]["environment"]["TADBIR_DEMO_URL"]
    config = parse_config((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    for company in config.companies:
        tadbir = sqlalchemy_url(company.tadbir_conn_id)
        assert tadbir.startswith("mssql+pymssql://sa:"), tadbir
        assert tadbir.rsplit("/", 1)[1] == company_url(loader_url, company.code).database
        assert "@mssql:1433/" in tadbir


def test_postgres_init_creates_the_ledger_database_the_connection_names():
    compose = compose_raw()
    postgres = compose["services"]["postgres"]
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert "HAMGAM_STATE_PASSWORD" in postgres["environment"]
    script = (ROOT / "deploy" / "postgres-init" / "10-hamgam-state.sh").read_text(encoding="utf-8")
    assert '"${HAMGAM_STATE_USER:-hamgam}"' in script and '"${HAMGAM_STATE_DB:-hamgam_state}"' in script
    state = json.loads(compose_with(EXAMPLE)["services"]["airflow-init"]["environment"]["AIRFLOW_CONN_HAMGAM_STATE"])
    assert (state["host"], state["login"], state["schema"]) == ("postgres", "hamgam", "hamgam_state")


def fake_commands(bin_dir: Path, log: Path) -> None:
    """``airflow`` and ``python`` that only write their arguments to ``log``, one call per line."""
    bin_dir.mkdir()
    for name in ("airflow", "python"):
        path = bin_dir / name
        path.write_text(f'#!/bin/bash\nprintf "{name}" >> "{log}"\nprintf " %s" "$@" >> "{log}"\necho >> "{log}"\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_init_service_migrates_both_databases_then_sets_the_pool_from_airflow_env(tmp_path):
    """The init service's script, run by bash with the shared settings as its environment (its env_file) and
    stand-ins for ``airflow`` and ``python``: the calls, in order, and the pool's slots from airflow.env."""
    init = compose_with(EXAMPLE)["services"]["airflow-init"]
    assert init["command"][:2] == ["bash", "-c"]
    log = tmp_path / "calls.log"
    fake_commands(tmp_path / "bin", log)
    assert int(SHARED["HAMGAM_CRM_POOL_SLOTS"]) > 0
    for slots in (SHARED["HAMGAM_CRM_POOL_SLOTS"], "7"):  # 7: the value is read, not written into the script
        log.unlink(missing_ok=True)
        env = {**SHARED, "HAMGAM_CRM_POOL_SLOTS": slots, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-c", init["command"][2]], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert log.read_text().splitlines() == [
            "airflow db migrate",
            "python -m hamgam migrate",
            f"airflow pools set {CRM_POOL} {slots} Payamgostar CRM: concurrent CRM work across all DAGs",
        ]


def test_the_init_service_stops_at_the_first_failure(tmp_path):
    init = compose_with(EXAMPLE)["services"]["airflow-init"]
    log = tmp_path / "calls.log"
    fake_commands(tmp_path / "bin", log)
    (tmp_path / "bin" / "python").write_text(f'#!/bin/bash\necho "python $*" >> "{log}"\nexit 3\n')
    env = {**SHARED, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", init["command"][2]], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert not any("pools set" in line for line in log.read_text().splitlines())


def test_the_sandbox_webhooks_reach_the_api_servers_hamgam_routes():
    sandbox = compose_with(EXAMPLE)["services"]["payamgostar-sandbox"]["environment"]
    secret = EXAMPLE["HAMGAM_WEBHOOK_SECRET"]
    for variable, kind in (("PG_SANDBOX_WEBHOOK_IDENTITY_URL", "customer"),
                           ("PG_SANDBOX_WEBHOOK_QUOTE_URL", "salequote")):
        path = f"/hamgam/api/sync/{kind}"
        assert sandbox[variable] == f"http://airflow-apiserver:8080{path}?token={secret}"
        # the routes `make up` uses
        assert up.WEBHOOK_URL.format(port=8080, kind=kind).startswith(f"http://127.0.0.1:8080{path}?token=")
    crm = json.loads(EXAMPLE["AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT"])
    assert (crm["login"], crm["password"]) == (EXAMPLE["PAYAMGOSTAR_SANDBOX_USER"], EXAMPLE["PAYAMGOSTAR_SANDBOX_PASSWORD"])


def test_interpolation_follows_compose():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("$${SET} ${SET} ${EMPTY:-d} ${EMPTY-d} ${UNSET:-d} ${UNSET-d}", env) == "${SET} x d  d d"
    with pytest.raises(KeyError, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", env)
    assert yaml.safe_load(interpolate("a: '${SET}'", env)) == {"a": "x"}
