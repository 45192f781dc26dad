"""Metrics per company and entity (``hamgam.metrics``) reach a real StatsD listener (UDP, a free port) from a
real task run, with Airflow's ``[metrics]`` turned on through the environment as a deployment turns them on:
``airflow dags test`` of the identities DAG in its own process, and (slow) a run under a real scheduler, whose
task runner sets up the metrics itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_world import free_port, make_world

pytestmark = pytest.mark.airflow

DAG = "tadbir_to_payamgostar__identities"
NAMES = ("records_synced", "records_set_aside", "records_failed", "records_queued", "freshness_lag_seconds")


class StatsdListener:
    """Collects the StatsD lines sent to it: name → (value, type) of the last one of each name."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: dict[str, tuple[float, str]] = {}
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:  # closed
                return
            with self.changed:
                for line in data.decode().splitlines():  # name:value|type[|@rate][|#tags]
                    name, _, rest = line.partition(":")
                    value, kind = rest.split("|")[:2]
                    self.received[name] = (float(value), kind)
                self.changed.notify_all()

    def wait_for(self, names: list[str], timeout: float = 120) -> dict[str, tuple[float, str]]:
        with self.changed:
            self.changed.wait_for(lambda: all(n in self.received for n in names), timeout=timeout)
            return dict(self.received)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    yield listener
    listener.close()


def statsd_env(statsd: StatsdListener) -> dict[str, str]:
    return {"AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port), "AIRFLOW__METRICS__STATSD_PREFIX": "airflow"}


def test_a_run_emits_each_companys_counts_and_freshness_to_statsd(world, statsd):
    env = {**os.environ, **statsd_env(statsd)}
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "dags", "test", DAG], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    wanted = [f"airflow.hamgam.{name}.identities.{company}" for name in NAMES for company in (100, 200)]
    got = statsd.wait_for(wanted)
    assert set(wanted) <= set(got), sorted(set(wanted) - set(got))
    ledger = world.ledger()
    for company in (100, 200):
        counts = ledger.counts_by_status(company, "identities")
        metric = {name: got[f"airflow.hamgam.{name}.identities.{company}"] for name in NAMES}
        assert all(kind == "g" for _, kind in metric.values())  # gauges
        assert metric["records_synced"][0] == counts["synced"] > 100
        assert metric["records_set_aside"][0] == counts.get("invalid", 0) + counts.get("rejected", 0) > 0
        assert metric["records_failed"][0] == counts.get("failed", 0)
        assert metric["records_queued"][0] == ledger.pending_count(company, "identities") == 0
        assert 0 <= metric["freshness_lag_seconds"][0] < 600  # the run that just finished started that long ago


@pytest.mark.slow
def test_a_run_under_a_real_scheduler_emits_the_metrics(tmp_path, smtp, statsd):
    from hamgam.dagbuilder import CRM_POOL
    from hamgam.ledger.store import Ledger
    from hamgam_dev.airflow_server import AirflowServer
    from hamgam_dev.backfill_demo import SCHEDULER_SETTINGS, failed_task_logs
    from hamgam_dev.devenv import airflow_env
    from pg_sandbox.testing import run_sandbox

    sandbox_port = free_port()
    data = tmp_path / "data"
    _, _, config_path = make_world(tmp_path)
    env = {**airflow_env(data, sandbox_url=f"http://127.0.0.1:{sandbox_port}", airflow_home=tmp_path / "airflow",
                         smtp_port=smtp.port, crm_max_attempts=2),
           **SCHEDULER_SETTINGS, **statsd_env(statsd),
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()), "HAMGAM_CONFIG": str(config_path)}
    with run_sandbox(data / "sandbox.sqlite", port=sandbox_port), AirflowServer(env) as server:
        server.api("POST", "/pools", json={"name": CRM_POOL, "slots": 4, "description": "CRM work (hamgam)"})
        server.unpause(DAG)
        server.api("POST", f"/dags/{DAG}/dagRuns", json={"logical_date": None})
        deadline = time.monotonic() + 600
        while not any(r["state"] == "success" for r in server.dag_runs(DAG)):
            runs = server.dag_runs(DAG)  # the manual run, and maybe one the change watcher started
            assert not runs or not all(r["state"] == "failed" for r in runs), failed_task_logs(server, runs)
            assert time.monotonic() < deadline, f"no successful run after 600 s: {runs}"
            time.sleep(1)
        wanted = [f"airflow.hamgam.{name}.identities.{company}" for name in NAMES for company in (100, 200)]
        got = statsd.wait_for(wanted)
        assert set(wanted) <= set(got), sorted(set(wanted) - set(got))
        ledger = Ledger.connect(f"sqlite:///{data / 'hamgam_state.sqlite'}")
        try:
            for company in (100, 200):
                counts = ledger.counts_by_status(company, "identities")
                assert got[f"airflow.hamgam.records_synced.identities.{company}"][0] == counts["synced"] > 100
        finally:
            ledger.dispose()
