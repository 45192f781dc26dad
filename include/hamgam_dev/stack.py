"""`make stack`: hamgam's distributed shape on this machine, without containers.

    python -m hamgam_dev.stack up       # start everything, print the URL and login, run until Ctrl-C
    python -m hamgam_dev.stack down     # stop a running `up` (make stack-down), from another terminal
    python -m hamgam_dev.stack status   # is one running, and where

`up` creates its own PostgreSQL databases on 127.0.0.1:5432 (dropped and made afresh each time: Airflow's
metadata `hamgam_stack_airflow`, the ledger `hamgam_stack_state`), migrates both, builds the demo Tadbir
data (hamgam_dev.demo.prepare, which also registers the DAGs and makes the payamgostar_api pool with
HAMGAM_CRM_POOL_SLOTS slots), starts the Payamgostar sandbox (its webhooks go to the API server's
/hamgam/api/sync/...), then the API server, scheduler, DAG processor, triggerer and two Celery workers
(hamgam_dev.airflow_server) with the settings of config/airflow.env plus this host's (hamgam_dev.devenv,
executor "celery"). The broker is the machine's Redis, with a key prefix of this run's own (removed on
stop), so nothing else using that Redis is touched. Everything lives in .stack/ (AIRFLOW_HOME .stack/airflow,
logs in .stack/airflow/logs/server/, the pid file .stack/stack.pid).

`Stack` is also what tests/stack/test_stack_e2e.py starts, with free ports, throwaway database names and
its own settings.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hamgam_dev.devenv import DEMO_WEBHOOK_SECRET, PG_HOST, REDIS_URL, ROOT, airflow_env

STACK_HOME = ROOT / ".stack"
METADATA_DB, LEDGER_DB = "hamgam_stack_airflow", "hamgam_stack_state"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORKERS = 2
STOP_TIMEOUT = 90.0


@dataclass
class StackSettings:
    home: Path = STACK_HOME
    metadata_db: str = METADATA_DB
    ledger_db: str = LEDGER_DB
    api_port: int = 0  # 0: a free one
    sandbox_port: int = 0
    broker_url: str = REDIS_URL
    workers: int = WORKERS
    latency_ms: int = 5
    seed: int = 1405
    scale: int = 1
    hamgam_config: Path | None = None  # default: config/hamgam.yaml
    extra_env: dict[str, str] = field(default_factory=dict)  # last word on the Airflow environment


def recreate_databases(*names: str) -> None:
    drop_databases(*names, create_again=True)


def drop_databases(*names: str, create_again: bool = False) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                if create_again:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def forget_broker_keys(broker_url: str, prefix: str) -> int:
    """Delete the Redis keys of this run's prefix (queued messages a killed worker left); returns how many."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


@dataclass
class Stack:
    """A started stack (see the module): ``server`` is the AirflowServer, ``sandbox`` the RunningSandbox."""

    settings: StackSettings
    env: dict[str, str]
    server: Any
    sandbox: Any
    data: Path
    started_in: float

    def pid_file(self) -> Path:
        return self.settings.home / "stack.pid"

    def describe(self) -> str:
        user, password = self.server.admin_password()
        workers = ", ".join(f"{name} (pid {pid})" for name, pid in sorted(self.server.worker_pids().items()))
        return "\n".join([
            f"hamgam stack ready in {self.started_in:.0f} s (CeleryExecutor, broker {self.settings.broker_url}):",
            f"  Airflow UI and API   {self.server.base_url}   login {user} / {password}",
            f"  Payamgostar sandbox  {self.sandbox.base_url}/_sandbox/  (webhooks -> {self.server.base_url}/hamgam/api/sync/...)",
            f"  Celery workers       {workers}",
            f"  PostgreSQL           metadata {self.settings.metadata_db}, ledger {self.settings.ledger_db} on 127.0.0.1:5432",
            f"  logs                 {self.server.log_dir}/ (components), {self.server.home / 'logs'}/ (tasks)",
            f"  AIRFLOW_HOME         {self.server.home}",
            "Ctrl-C or `make stack-down` stops everything.",
        ])


def stack_env(settings: StackSettings, *, sandbox_port: int, broker_prefix: str) -> dict[str, str]:
    """The Airflow environment of the stack's processes (before AirflowServer adds ports and its tag)."""
    home = settings.home.resolve()
    env = airflow_env(home / "data", sandbox_url=f"http://127.0.0.1:{sandbox_port}", airflow_home=home / "airflow",
                      executor="celery", metadata_url=f"{PG_HOST}/{settings.metadata_db}",
                      ledger_url=f"{PG_HOST}/{settings.ledger_db}", broker_url=settings.broker_url)
    # every Celery key of this run (queues, unacked messages) carries the prefix: another user of this Redis is
    # never touched, and the keys are removed when the stack stops
    env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] = broker_prefix
    if settings.hamgam_config:
        env["HAMGAM_CONFIG"] = str(settings.hamgam_config)
    env.update(settings.extra_env)
    return env


@contextmanager
def running_stack(settings: StackSettings, *, say=print) -> Iterator[Stack]:
    """Prepare and start a stack; everything started is stopped (and the broker keys removed) on exit."""
    from hamgam.ledger.migrate import upgrade
    from hamgam_dev.airflow_server import AirflowServer, free_port
    from hamgam_dev.demo import prepare
    from pg_sandbox.testing import run_sandbox

    began = time.monotonic()
    home = settings.home.resolve()
    data = home / "data"
    api_port = settings.api_port or free_port()
    sandbox_port = settings.sandbox_port or free_port()
    prefix = f"hamgam-stack-{secrets.token_hex(4)}:"
    env = stack_env(settings, sandbox_port=sandbox_port, broker_prefix=prefix)
    say(f"hamgam stack: PostgreSQL databases {settings.metadata_db} and {settings.ledger_db} (made afresh), "
        f"demo data in {data}")
    recreate_databases(settings.metadata_db, settings.ledger_db)
    upgrade(f"postgresql+psycopg://postgres@127.0.0.1:5432/{settings.ledger_db}")
    prepare(data, env, seed=settings.seed, scale=settings.scale, pool_slots=int(env["HAMGAM_CRM_POOL_SLOTS"]))
    with ExitStack() as stack:
        stack.callback(forget_broker_keys, settings.broker_url, prefix)
        sandbox = stack.enter_context(run_sandbox(data / "sandbox.sqlite", port=sandbox_port,
                                                  latency_ms=settings.latency_ms))
        hooks = f"http://127.0.0.1:{api_port}/hamgam/api/sync"
        sandbox.set_faults(webhook_identity_url=f"{hooks}/customer?token={DEMO_WEBHOOK_SECRET}",
                           webhook_quote_url=f"{hooks}/salequote?token={DEMO_WEBHOOK_SECRET}")
        say(f"Starting Airflow (api-server :{api_port}, scheduler, dag-processor, triggerer, "
            f"{settings.workers} Celery workers) ...")
        server = stack.enter_context(AirflowServer(env, port=api_port, celery_workers=settings.workers,
                                                   startup_timeout=300))
        yield Stack(settings, server.env, server, sandbox, data, time.monotonic() - began)


# -- the command --------------------------------------------------------------------------------


def _read_pid(home: Path) -> int | None:
    path = home / "stack.pid"
    try:
        pid = int(json.loads(path.read_text())["pid"])
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError):
        return None


def up(settings: StackSettings) -> int:
    home = settings.home.resolve()
    if (pid := _read_pid(home)) is not None:
        print(f"a stack already runs from {home} (pid {pid}): `make stack-down` first", file=sys.stderr)
        return 1
    home.mkdir(parents=True, exist_ok=True)

    def terminated(signum, frame):  # `make stack-down`: stop as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    pid_file = home / "stack.pid"
    stopping = None
    try:
        with running_stack(settings) as stack:
            pid_file.write_text(json.dumps({"pid": os.getpid(), "api": stack.server.base_url,
                                            "sandbox": stack.sandbox.base_url}))
            print(stack.describe(), flush=True)
            try:
                while True:
                    stack.server._check_alive()
                    time.sleep(1)
            except KeyboardInterrupt:
                stopping = time.monotonic()
                print("\nStopping the stack ...", flush=True)
    except KeyboardInterrupt:  # during the start: running_stack stopped what it had started
        stopping = stopping or time.monotonic()
    finally:
        pid_file.unlink(missing_ok=True)
    if stopping is not None:
        print(f"hamgam stack stopped in {time.monotonic() - stopping:.1f} s: Airflow, its workers and the "
              "sandbox are gone.")
    return 0


def down(home: Path) -> int:
    pid = _read_pid(home.resolve())
    if pid is None:
        print(f"no stack runs from {home}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print(f"hamgam stack (pid {pid}) stopped")
            return 0
        time.sleep(0.2)
    print(f"hamgam stack (pid {pid}) still running {STOP_TIMEOUT:.0f} s after SIGTERM", file=sys.stderr)
    return 1


def status(home: Path) -> int:
    pid = _read_pid(home.resolve())
    if pid is None:
        print(f"no stack runs from {home}")
        return 1
    where = json.loads((home / "stack.pid").read_text())
    print(f"hamgam stack runs (pid {pid}): Airflow {where['api']}, sandbox {where['sandbox']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--home", type=Path, default=STACK_HOME, help="where the stack's files go (default .stack/)")
    parser.add_argument("--port", type=int, default=0, help="API server port (default: a free one)")
    parser.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: a free one)")
    args = parser.parse_args(argv)
    if args.command == "down":
        return down(args.home)
    if args.command == "status":
        return status(args.home)
    return up(StackSettings(home=args.home, api_port=args.port, sandbox_port=args.sandbox_port))


if __name__ == "__main__":
    raise SystemExit(main())
