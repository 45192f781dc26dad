"""The stack's environment (no process started): config/airflow.env reaches it unchanged, this host's
settings are added, the log servers bind 127.0.0.1 with a port per worker, and devenv's local default (the
demo, the tests, make up) is what it was before the distributed shape was added."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hamgam_dev.airflow_server import AirflowServer
from hamgam_dev.devenv import ROOT, SHARED_SETTINGS, airflow_env, read_env_file
from hamgam_dev.stack import StackSettings, stack_env


def stack_server_env(tmp_path: Path, **settings) -> dict[str, str]:
    env = stack_env(StackSettings(home=tmp_path, **settings), sandbox_port=1234, broker_prefix="p:")
    return AirflowServer(env, celery_workers=2).env  # what every process of the stack gets


def test_every_setting_of_config_airflow_env_reaches_the_stack_unchanged(tmp_path):
    shared = read_env_file()
    assert {"AIRFLOW__CORE__EXECUTOR", "HAMGAM_CRM_POOL_SLOTS"} <= set(shared)
    env = stack_server_env(tmp_path)
    assert {key: env.get(key) for key in shared} == shared


def test_the_stack_adds_this_hosts_databases_broker_and_one_jwt_secret(tmp_path):
    env = stack_server_env(tmp_path, metadata_db="meta_x", ledger_db="ledger_y", broker_url="redis://127.0.0.1:6379/7")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://postgres@127.0.0.1:5432/meta_x"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://postgres@127.0.0.1:5432/meta_x"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/7"
    assert json.loads(env["AIRFLOW_CONN_HAMGAM_STATE"]) == {
        "conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "ledger_y"}
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 32
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://127.0.0.1:")
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] == "p:"


def test_celery_workers_start_warm_with_airflows_own_celery_settings(tmp_path, monkeypatch):
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
    from celery.signals import worker_init

    env = stack_server_env(tmp_path)
    module, _, name = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    warm = __import__(module, fromlist=[name])
    assert getattr(warm, name) is DEFAULT_CELERY_CONFIG
    warmed = []
    monkeypatch.setattr("hamgam.executor.warm", lambda: warmed.append(True))
    worker_init.send(sender=None)  # what a Celery worker's main process sends before its pool starts
    assert warmed == [True]


def test_log_servers_bind_loopback_and_each_worker_has_its_own_port(tmp_path):
    server = AirflowServer(stack_server_env(tmp_path), celery_workers=2)
    components = {c["name"]: c for c in server.components()}
    workers = [components[f"worker{i}"] for i in (1, 2)]
    assert all("--skip-serve-logs" in w["argv"] for w in workers)
    assert "--skip-serve-logs" in components["triggerer"]["argv"]
    ports = [w["env"]["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] for w in workers]
    assert len(set(ports)) == 2
    for name, port in (("worker1", ports[0]), ("worker2", ports[1]),
                       ("triggerer", server.env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"])):
        argv = components[f"log-server-{name}"]["argv"]
        assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == port
    assert [w["argv"][w["argv"].index("-H") + 1] for w in workers] == ["worker1@%h", "worker2@%h"]


def test_celery_workers_need_the_celery_executor(tmp_path):
    with pytest.raises(ValueError, match="CeleryExecutor"):
        AirflowServer(airflow_env(tmp_path, airflow_home=tmp_path / "a"), celery_workers=1)


def test_read_env_file_takes_key_value_lines_and_skips_comments(tmp_path):
    path = tmp_path / "x.env"
    path.write_text("# a comment\n\nA=1\n  # indented comment\nB=x=y # not a comment\nC=\n", encoding="utf-8")
    assert read_env_file(path) == {"A": "1", "B": "x=y # not a comment", "C": ""}
    path.write_text("A=1\nnot a setting\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.env:2"):
        read_env_file(path)
    assert SHARED_SETTINGS == ROOT / "config" / "airflow.env"


def test_the_local_default_is_what_it_was(tmp_path, monkeypatch):
    monkeypatch.delenv("HAMGAM_CONFIG", raising=False)
    data = tmp_path.resolve()
    home = ROOT / ".airflow"
    assert airflow_env(tmp_path) == {  # the output of devenv before executor "celery" was added
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
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "HAMGAM_CONFIG": str(ROOT / "config" / "hamgam.yaml"),
        "GX_ANALYTICS_ENABLED": "False",
        "AIRFLOW_CONN_HAMGAM_STATE": json.dumps({"conn_type": "sqlite", "host": str(data / "hamgam_state.sqlite")}),
        "AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT": json.dumps({
            "conn_type": "http", "host": "http://127.0.0.1:8765", "login": "hamgam", "password": "hamgam-demo",
            "extra": {"timeout": 30, "max_attempts": 5}}),
        "AIRFLOW_CONN_HAMGAM_WEBHOOK": json.dumps({"conn_type": "generic", "password": "hamgam-demo-webhook"}),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": 8025,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}),
        "AIRFLOW_CONN_TADBIR_DEFAULT": json.dumps({"conn_type": "sqlite",
                                                   "host": str(data / "demo" / "tadbir_100.sqlite")}),
        "AIRFLOW_CONN_TADBIR_200": json.dumps({"conn_type": "sqlite", "host": str(data / "demo" / "tadbir_200.sqlite")}),
    }


ORPHAN_MAKER = """
import os, sys, time
if os.fork() == 0:          # a task supervisor ...
    if os.fork() == 0:      # ... whose task process takes a process group of its own, as Airflow's does
        os.setpgid(0, 0)
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(600)
    os._exit(0)             # the supervisor dies (its worker was SIGKILLed): the task is reparented to PID 1
time.sleep(600)             # the launcher
"""


def test_stop_finds_a_task_process_left_in_a_group_of_its_own(tmp_path):
    """The case the notes describe: a SIGKILLed worker's task process lives on outside the launcher's process
    group; stop() must still find it (by the session) and leave nothing behind."""
    import subprocess
    import sys
    import time

    import psutil

    server = AirflowServer(airflow_env(tmp_path, airflow_home=tmp_path / "a"))
    marker = tmp_path / "orphan.pid"
    server.leader = subprocess.Popen([sys.executable, "-c", ORPHAN_MAKER, str(marker)], start_new_session=True)
    server.pgid = server.leader.pid
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the orphan did not start"
        time.sleep(0.05)
    orphan = psutil.Process(int(marker.read_text()))
    try:
        assert orphan.ppid() != server.pgid and os.getpgid(orphan.pid) != server.pgid
        assert orphan.pid in server.processes()
        server.stop(grace=2)
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
    finally:  # whatever failed, leave nothing behind
        for pid in (orphan.pid, server.leader.pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        server.leader.wait(timeout=10)
