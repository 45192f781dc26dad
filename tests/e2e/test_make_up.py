"""`make up` (python -m hamgam_dev.up) for real: it starts, SIGINT stops everything, a restart keeps the world.

One test, three starts of a real Airflow (scheduler, DAG processor, triggerer, API server) and the sandbox,
on free ports, in a tmp data directory and AIRFLOW_HOME:

1. a first start (a fresh world); the API server and the sandbox listen on 127.0.0.1 only; the identities
   DAG is unpaused and its first run syncs customers into the ledger and the sandbox; a second start on
   the same ports is refused before it changes anything; SIGINT to the process group (what Ctrl-C
   sends) stops every process it started, and it exits 0;
2. a restart keeps the world: the run is still in Airflow, its records in the ledger and the sandbox,
   identities still unpaused and products still paused;
3. a restart with --reset resets all three: no runs, every DAG paused, an empty ledger and CRM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from e2e_world import free_port

from hamgam_dev.airflow_server import AirflowServer
from hamgam_dev.devenv import DEMO_PASSWORD, DEMO_USER, airflow_env

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

IDENTITIES = "tadbir_to_payamgostar__identities"
PRODUCTS = "tadbir_to_payamgostar__products"


class Up:
    """One `python -m hamgam_dev.up` in its own process group, as a terminal runs it."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.tmp = tmp
        self.data, self.home = tmp / "data", tmp / "airflow"
        self.port, self.sandbox_port = free_port(), free_port()
        self.out = tmp / f"up-{time.monotonic_ns()}.log"
        env = {**os.environ,
               # the log servers: free ports, not Airflow's fixed 8793/8794 (other servers run on this host)
               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
               "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        env.pop("AIRFLOW_HOME", None)  # the test session's: up sets its own
        with self.out.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hamgam_dev.up", "--port", str(self.port), "--sandbox-port",
                 str(self.sandbox_port), "--data", str(self.data), "--airflow-home", str(self.home), *extra],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.started: set[int] = set()

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "Airflow UI on" not in self.output():
            assert self.process.poll() is None, f"up exited with {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"up not ready after {timeout:.0f} s:\n{self.output()}"
            time.sleep(0.5)
        self.started = self.descendants()

    def descendants(self) -> set[int]:
        """Pids of everything up started: its children, Airflow's process group, anything using its home."""
        return {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)} | self.using_home()

    def airflow(self) -> AirflowServer:
        """A client of the running Airflow (not started by it: only its REST API is used)."""
        return AirflowServer(airflow_env(self.data, airflow_home=self.home), port=self.port)

    def sandbox_records(self) -> list[dict]:
        from pg_sandbox.testing import RunningSandbox

        return RunningSandbox(f"http://127.0.0.1:{self.sandbox_port}", None, self.data / "sandbox.sqlite",  # type: ignore[arg-type]
                              DEMO_USER, DEMO_PASSWORD).records()

    def ledger_runs(self) -> list:
        from hamgam.ledger.store import Ledger

        ledger = Ledger.connect(f"sqlite:///{self.data / 'hamgam_state.sqlite'}")
        try:
            return ledger.runs(limit=1000)
        finally:
            ledger.dispose()

    def interrupt(self, timeout: float = 90) -> float:
        """SIGINT to up's process group (Ctrl-C); returns the seconds until up and all it started are gone."""
        sent = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.wait(timeout=timeout) == 0, self.output()
        left = self.alive(self.started | self.using_home())
        while left and time.monotonic() - sent < timeout:
            time.sleep(0.2)
            left = self.alive(left)
        assert not left, f"left running after SIGINT: {[(p, psutil.Process(p).cmdline()) for p in left]}"
        return time.monotonic() - sent

    def using_home(self) -> set[int]:
        """Pids of the processes whose environment names up's Airflow home (they outlive their parents)."""
        found = set()
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.environ().get("AIRFLOW_HOME") == str(self.home):
                    found.add(proc.pid)
            except psutil.Error:
                continue
        return found

    @staticmethod
    def alive(pids: set[int]) -> set[int]:
        out = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.add(pid)
            except psutil.NoSuchProcess:
                continue
        return out


def listening(pids: set[int]) -> dict[int, list[str]]:
    """Port -> the addresses processes of `pids` listen on it (TCP)."""
    found: dict[int, list[str]] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            found.setdefault(conn.laddr.port, []).append(conn.laddr.ip)
    return found


def test_make_up_stops_on_sigint_and_keeps_or_resets_its_world(tmp_path):
    # -- first start: a fresh world ---------------------------------------------------------------
    up = Up(tmp_path)
    up.wait_ready()
    assert "a fresh world (first start)" in up.output()
    ports = listening(up.started)
    assert ports[up.port] and ports[up.sandbox_port], ports
    # every port, the log servers' included (Airflow binds those to every interface; hamgam_dev.log_server
    # serves them on 127.0.0.1 instead)
    assert {ip for ips in ports.values() for ip in ips} == {"127.0.0.1"}, ports

    airflow = up.airflow()
    airflow.unpause(IDENTITIES)  # catchup off: its latest interval runs at once
    [run] = airflow.wait_for_runs(IDENTITIES, 1, timeout=300)
    assert run["state"] == "success", run
    synced = {r.run_id for r in up.ledger_runs() if r.dag_id == IDENTITIES}
    assert run["run_id"] in synced
    customers = [r for r in up.sandbox_records() if r["kind"] in ("person", "organization")]
    assert customers
    # a second `make up RESET=1` on the same ports is refused before it touches the world
    second = subprocess.run(
        [sys.executable, "-m", "hamgam_dev.up", "--reset", "--port", str(up.port), "--sandbox-port",
         str(up.sandbox_port), "--data", str(up.data), "--airflow-home", str(up.home)],
        capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 1 and "in use" in second.stderr, second.stdout + second.stderr
    assert run["run_id"] in {r.run_id for r in up.ledger_runs()}
    stopped_in = up.interrupt()
    print(f"first stop: {stopped_in:.1f} s")

    # -- restart: the same world ------------------------------------------------------------------
    again = Up(tmp_path)
    again.wait_ready()
    assert "keeping the world" in again.output()
    airflow = again.airflow()
    assert run["run_id"] in {r["run_id"] for r in airflow.dag_runs(IDENTITIES)}
    assert airflow.api("GET", f"/dags/{IDENTITIES}")["is_paused"] is False
    assert airflow.api("GET", f"/dags/{PRODUCTS}")["is_paused"] is True
    assert run["run_id"] in {r.run_id for r in again.ledger_runs() if r.dag_id == IDENTITIES}
    kept = {r["customerNumber"] for r in again.sandbox_records() if r["kind"] in ("person", "organization")}
    assert kept >= {r["customerNumber"] for r in customers}
    print(f"second stop: {again.interrupt():.1f} s")

    # -- restart with --reset: a fresh world, all three parts ---------------------------------------
    fresh = Up(tmp_path, "--reset")
    fresh.wait_ready()
    assert "a fresh world (--reset)" in fresh.output()
    airflow = fresh.airflow()
    airflow.wait_for_dag(IDENTITIES)
    assert airflow.dag_runs(IDENTITIES) == []
    assert airflow.api("GET", f"/dags/{IDENTITIES}")["is_paused"] is True
    assert fresh.ledger_runs() == []
    assert fresh.sandbox_records() == []
    print(f"third stop: {fresh.interrupt():.1f} s")
