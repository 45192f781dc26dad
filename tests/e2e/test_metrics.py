"""Metrics per company and entity (``hamgam.metrics``) reach a real StatsD listener (UDP, a free port) from a
real task run: ``airflow dags test`` of the identities DAG in its own process, with Airflow's ``[metrics]``
turned on through the environment, as a deployment turns them on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

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

    def wait_for(self, names: list[str], timeout: float = 60) -> dict[str, tuple[float, str]]:
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


def test_a_run_emits_each_companys_counts_and_freshness_to_statsd(world, statsd):
    env = {**os.environ, "AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
           "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port), "AIRFLOW__METRICS__STATSD_PREFIX": "airflow"}
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
