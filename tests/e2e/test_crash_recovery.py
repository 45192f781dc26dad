"""A load killed mid-batch (the worker dies) and run again: nothing duplicated, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from e2e_world import open_world

pytestmark = pytest.mark.airflow

CRASHING_LOAD = """
from hamgam import tasks
detected = tasks.detect("identities", 100, run_id="crashed-run")
tasks.load("identities", detected, dag_id="tadbir_to_payamgostar__identities", run_id="crashed-run")
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, smtp):
    with open_world(tmp_path_factory.mktemp("crash"), airflow_db, smtp, lease_ttl_seconds=2) as opened:
        yield opened


def creates(world) -> int:
    return world.calls("person/create") + world.calls("organization/create")


def test_rerun_after_a_crash_after_n_creates_duplicates_nothing(world):
    world.sandbox.set_faults(latency_ms=40)
    worker = subprocess.Popen([sys.executable, "-c", CRASHING_LOAD], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while creates(world) < 15 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
    worker.kill()  # SIGKILL: no cleanup, the lease stays held, in-flight calls are lost
    worker.wait()
    created_before_crash = creates(world)
    assert 15 <= created_before_crash < 100, "the crash should land in the middle of the batch"
    world.sandbox.set_faults(latency_ms=0)
    time.sleep(2.5)  # the crashed run's lease expires

    assert world.run().state == "success"

    numbers = [r["customerNumber"] for r in world.sandbox.records("person", "organization")]
    assert len(numbers) == len(set(numbers)), "a customer exists twice in the CRM"
    assert creates(world) == len(numbers), "a customer was created more than once"
    ledger = world.ledger()
    for company in (100, 200):
        synced = ledger.counts_by_status(company, "identities")["synced"]
        assert sum(n.startswith(f"{company}-") for n in numbers) == synced
        assert ledger.pending_count(company, "identities") == 0
