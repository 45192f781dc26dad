"""End to end on the distributed stack (`make stack`'s code path: hamgam_dev.stack.running_stack): CeleryExecutor
with two workers, PostgreSQL for Airflow's metadata and the ledger, Redis as the broker, the sandbox.

Everything at once: every forward DAG triggered, the two-fiscal-year backfill (1403, 1404), and, once the
first runs are under way, one Celery worker SIGKILLed (with every process under it) while a load task runs
on it. Then a CRM user makes a customer and a quote; the sandbox's webhooks reach the API server and the
reverse DAGs write both into Tadbir. Last, the drift report reads every company and entity of Tadbir in
full against the ledger: a green run says nothing Tadbir holds is missing.

Asserted: every run ends success (retries allowed); nothing lost (the drift report green; every record the
ledger has synced held by a CRM record with its id: hamgam_dev.chaos.oracle.invariants); nothing doubled (no
number twice in the sandbox, no CRM record the ledger does not name); the CRM user's customer and quote are
in Tadbir once. The numbers (runs per DAG, durations, the kill) are printed and written to a file.
Waits are for conditions with generous deadlines; nothing sleeps to synchronise.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from hamgam.dagbuilder import BY_FISCAL_YEAR, DRIFT_REPORT, REVERSE_DAGS
from hamgam.entities import SPECS
from hamgam_dev.devenv import REDIS_URL
from hamgam_dev.freshness import world_settings
from hamgam_dev.stack import StackSettings, drop_databases, running_stack
from throwaway_pg import pg_problem

pytestmark = [pytest.mark.stack, pytest.mark.airflow]

FORWARD = [spec.dag_id for spec in SPECS.values()]
REVERSE = list(REVERSE_DAGS.values())
TIMEOUT = 900.0  # generous: the whole test takes ~5 minutes here
# The test's own scheduler settings: a dead worker's task is noticed after 20 s without heartbeat (default
# 300 s), and a task a dead worker had taken from the queue without starting it is queued again after 120 s
# (default 600 s, checked every 120 s).
FAILOVER_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
}


def _when(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def runs_of(server, dag_id: str) -> list[dict[str, Any]]:
    return server.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000})["dag_runs"]


def wait_finished(server, dag_ids: list[str], deadline: float, *, at_least: int = 1) -> None:
    """Until every DAG has at least ``at_least`` runs and none is still going."""
    while True:
        busy = {d: [(r["dag_run_id"], r["state"]) for r in runs]
                for d in dag_ids if len(runs := runs_of(server, d)) < at_least
                or any(r["state"] not in ("success", "failed") for r in runs)}
        if not busy:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"runs not finished: {busy}\n{server.log_tail()}")
        server._check_alive()
        time.sleep(1)


def kill_a_worker_mid_load(server, deadline: float) -> dict[str, Any]:
    """Wait until a load task runs on a Celery worker, then SIGKILL that worker and what it started."""
    while time.monotonic() < deadline:
        running = server.api("GET", "/dags/~/dagRuns/~/taskInstances",
                             params={"state": "running", "limit": 100})["task_instances"]
        for ti in running:
            if not ti["task_id"].endswith("load") or not ti.get("pid"):
                continue
            worker = server.worker_running(ti["pid"])
            if worker is None:
                continue
            killed = server.kill_worker(worker)
            return {"worker": worker, "at": time.time(), "dag_id": ti["dag_id"], "run_id": ti["dag_run_id"],
                    "task": f"{ti['task_id']}[{ti['map_index']}]", "try": ti["try_number"],
                    "task_pid": ti["pid"], "pids_killed": len(killed)}
        time.sleep(0.2)
    raise AssertionError("no load task was seen running on a Celery worker")


def tadbir_rows(stack, company: int, sql: str, **params: Any) -> int:
    engine = sa.create_engine(f"sqlite:///{stack.data / 'demo' / f'tadbir_{company}.sqlite'}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()
    finally:
        engine.dispose()


def tadbir_quotes(stack, company: int, key: str) -> int:
    """How many quotes Tadbir holds under a ledger key (``1404/9001``: fiscal year / FactorNo)."""
    from hamgam.tadbir import reader

    year, _, number = key.partition("/")
    engine = sa.create_engine(f"sqlite:///{stack.data / 'demo' / f'tadbir_{company}.sqlite'}")
    try:
        periods = [str(p.id) for p in reader.fiscal_periods(engine) if p.year == int(year)]
    finally:
        engine.dispose()
    return tadbir_rows(stack, company, f"SELECT COUNT(*) FROM __SPFactor__ WHERE FactorType = 4 AND FactorNo = :no "
                       f"AND FPId IN ({', '.join(periods) or 'NULL'})", no=int(number))


def ledger_problems(stack, made: dict[str, str], monkeypatch) -> dict[str, Any]:
    """hamgam_dev.chaos.oracle's invariants over the stack's ledger and sandbox: lost, doubled, stuck."""
    from hamgam.config import load_config
    from hamgam.tasks import open_ledger
    from hamgam_dev.chaos.oracle import REVERSE_ENTITIES, Snapshot, invariants
    from hamgam_dev.chaos.world import ENTITIES

    for name in ("AIRFLOW_CONN_HAMGAM_STATE", "HAMGAM_CONFIG"):
        monkeypatch.setenv(name, stack.env[name])
    ledger = open_ledger(load_config())
    records, queued, runs = {}, {}, {}
    for company in (100, 200):
        for entity in (*ENTITIES, *REVERSE_ENTITIES):
            records[(company, entity)] = ledger.records(company, entity)
            queued[(company, entity)] = [p.tadbir_key for p in ledger.pending(company, entity, limit=100_000)]
            runs[(company, entity)] = ledger.latest_run(company, entity)
    events = [e for source in ("customer", "salequote") for e in ledger.pending_events(source, limit=100_000)]
    snap = Snapshot(records, queued, events, stack.sandbox.records(), {}, made, runs)
    problems = invariants(snap)
    synced = sum(1 for (_, entity), states in records.items() if entity in ENTITIES
                 for s in states.values() if s.status == "synced")
    def keys(entity: str) -> list[str]:  # the Tadbir keys the ledger links the CRM user's items to
        return [s.tadbir_key for s in records[(100, entity)].values() if s.crm_number in made]

    return {"counts": problems.counts(), "lines": [p.line() for p in problems], "synced": synced,
            "customer_keys": keys("identities"), "quote_keys": keys("quotes")}


@pytest.fixture
def stack(tmp_path):
    if problem := pg_problem():
        pytest.skip(problem)
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {exc}")
    config = world_settings(tmp_path, event_driven=False, schedule=None, retries=5, retry_delay_seconds=2,
                            lease_ttl_seconds=10)
    tag = uuid.uuid4().hex[:10]
    settings = StackSettings(home=tmp_path / "stack", metadata_db=f"hamgam_stack_t_{tag}_airflow",
                             ledger_db=f"hamgam_stack_t_{tag}_state", latency_ms=20, hamgam_config=config,
                             extra_env=FAILOVER_ENV)
    try:
        with running_stack(settings) as started:
            yield started
    finally:
        drop_databases(settings.metadata_db, settings.ledger_db)


def test_everything_at_once_with_a_worker_killed_mid_load(stack, tmp_path, monkeypatch):
    from hamgam_dev.backfill_demo import run_backfill
    from hamgam_dev.demo_crm_user import make_customer_and_quote

    server = stack.server
    began = time.monotonic()
    deadline = began + TIMEOUT
    workers = sorted(server.worker_pids())
    assert workers == ["worker1", "worker2"]
    for dag_id in (*FORWARD, *REVERSE, BY_FISCAL_YEAR, DRIFT_REPORT):
        server.wait_for_dag(dag_id)
    for dag_id in (*FORWARD, *REVERSE):
        server.unpause(dag_id)

    # the backfill waits for its runs: in a thread, on a client of its own (requests sessions are not shared)
    backfill_client = copy.copy(server)
    backfill_client._session = requests.Session()
    backfill: dict[str, Any] = {}

    def run_the_backfill() -> None:
        try:
            backfill["result"] = run_backfill(backfill_client, timeout=TIMEOUT - 60)
        except BaseException as exc:  # reported by the main thread
            backfill["error"] = exc

    backfill_thread = threading.Thread(target=run_the_backfill, daemon=True)
    backfill_thread.start()
    for dag_id in FORWARD:
        server.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})

    kill = kill_a_worker_mid_load(server, deadline)
    print(f"\nSIGKILLed {kill['worker']} ({kill['pids_killed']} processes) "
          f"{kill['at'] - time.time() + time.monotonic() - began:.1f} s in, while {kill['dag_id']} "
          f"{kill['task']} (try {kill['try']}) ran on it")
    assert sorted(server.worker_pids()) == [w for w in workers if w != kill["worker"]]

    # the CRM user needs the products in the CRM: after the forward runs, the customer and the quote
    wait_finished(server, FORWARD, deadline)
    made = make_customer_and_quote(stack.sandbox.base_url)
    stack.sandbox.flush_webhooks(60)
    wait_finished(server, REVERSE, deadline)
    backfill_thread.join(max(0.0, deadline - time.monotonic()))
    assert not backfill_thread.is_alive(), "the backfill did not finish"
    if "error" in backfill:
        raise backfill["error"]

    # the drift report reads all of Tadbir against the ledger: green = nothing Tadbir holds is missing
    # (unpausing it makes the run of its latest daily interval, catchup being off; one is triggered if not)
    server.unpause(DRIFT_REPORT)
    appear = time.monotonic() + 30
    while not runs_of(server, DRIFT_REPORT) and time.monotonic() < appear:
        time.sleep(0.5)
    if not runs_of(server, DRIFT_REPORT):
        server.api("POST", f"/dags/{DRIFT_REPORT}/dagRuns", json={"logical_date": None})
    wait_finished(server, [DRIFT_REPORT], deadline)
    elapsed = time.monotonic() - began

    runs = {dag_id: runs_of(server, dag_id) for dag_id in (*FORWARD, *REVERSE, BY_FISCAL_YEAR, DRIFT_REPORT)}
    failed = {d: [r["dag_run_id"] for r in rs if r["state"] != "success"] for d, rs in runs.items()}
    failed = {d: ids for d, ids in failed.items() if ids}
    problems = ledger_problems(stack, {made.customer_number: made.customer_id, made.quote_number: made.quote_id},
                               monkeypatch)
    numbers = Counter((r.get("kind"), str(r.get("customerNumber") or r.get("code") or r.get("number")))
                      for r in stack.sandbox.records())
    twice = sorted(f"{kind} {number}" for (kind, number), n in numbers.items() if n > 1 and number != "None")
    [customer_key] = problems["customer_keys"]  # the ledger links the CRM user's customer to one Tadbir key
    customer_rows, customer_periods = (
        tadbir_rows(stack, 100, f"SELECT COUNT({what}) FROM __Customer__ WHERE SubscriptionNo = :key", key=customer_key)
        for what in ("*", "DISTINCT FPId"))
    [quote_key] = problems["quote_keys"]
    quote_rows = tadbir_quotes(stack, 100, quote_key)
    retried = {}
    for dag_id in runs:
        tis = server.api("GET", f"/dags/{dag_id}/dagRuns/~/taskInstances", params={"limit": 1000})["task_instances"]
        retried[dag_id] = sum(1 for ti in tis if (ti["try_number"] or 0) > 1)
    report = {
        "seconds": round(elapsed, 1), "stack_started_in": round(stack.started_in, 1),
        "runs": {d: {"count": len(rs), "states": dict(Counter(r["state"] for r in rs)),
                     "seconds": [round(_when(r["end_date"]) - _when(r["start_date"]), 1) for r in rs
                                 if r["start_date"] and r["end_date"]],
                     "tasks_retried": retried[d]} for d, rs in runs.items()},
        "killed": {**kill, "at": datetime.fromtimestamp(kill["at"]).isoformat(timespec="seconds")},
        "lost": problems["counts"]["lost"], "doubled": problems["counts"]["doubled"] + len(twice),
        "stuck": problems["counts"]["stuck"], "synced_records": problems["synced"],
        "crm_records": sum(numbers.values()), "crm_writes": stack.sandbox.stats().get("writes", 0),
        "reverse": {"customer": made.customer_number, "quote": made.quote_number},
    }
    out = tmp_path / "stack-e2e.json"
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"numbers written to {out}")

    assert failed == {}, f"runs that did not succeed: {failed}"
    assert problems["lines"] == [], "\n".join(problems["lines"][:40])
    assert twice == [], f"numbers held twice in the CRM: {twice[:20]}"
    assert problems["synced"] > 0
    assert customer_rows >= 1 and customer_rows == customer_periods, (
        f"customer {made.customer_number} (key {customer_key}): {customer_rows} rows in {customer_periods} periods")
    assert quote_rows == 1, f"quote {made.quote_number} (key {quote_key}): {quote_rows} rows in Tadbir company 100"
    assert retried[kill["dag_id"]] >= 1  # the killed load was tried again (on the other worker)
