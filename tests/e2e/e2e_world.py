"""The end-to-end world: demo Tadbir databases, the real sandbox over HTTP, a local SMTP server, and the
identities DAG run through Airflow's own `dag.test()`."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hamgam_dev.devenv import ROOT, airflow_env
from pg_sandbox.testing import RunningSandbox, run_sandbox
from tadbir_demo import build_demo


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Any] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler protocol
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.arrived.set()
        return "250 OK"


@dataclass
class World:
    data: Path
    built: dict
    sandbox: RunningSandbox
    config_path: Path

    def tadbir(self, company: int) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "demo" / f"tadbir_{company}.sqlite")

    def current_period(self, company: int) -> int:
        with self.tadbir(company) as conn:
            return conn.execute("SELECT MAX(Id) FROM __FiscalPeriod__").fetchone()[0]

    def crm(self) -> dict[str, dict]:
        return {r["customerNumber"]: r for r in self.sandbox.records("person", "organization")}

    def writes(self) -> int:
        return self.sandbox.stats().get("writes", 0)

    def calls(self, verb: str) -> int:
        return self.sandbox.stats()["calls"].get(verb, 0)

    def run(self, **conf: Any):
        """Run the identities DAG through Airflow; returns the DagRun."""
        from hamgam.config import load_config
        from hamgam.dagbuilder import forward_dag

        dag = forward_dag("identities", load_config())
        return dag.test(run_conf=conf or None)

    def run_entity(self, entity: str, **conf: Any):
        """Run the forward DAG of ``entity`` ("products", "sales_invoices", ...) through Airflow; returns the DagRun."""
        from hamgam.config import load_config
        from hamgam.dagbuilder import forward_dag

        return forward_dag(entity, load_config()).test(run_conf=conf or None)

    def ledger(self):
        from hamgam.config import load_config
        from hamgam.tasks import open_ledger

        return open_ledger(load_config())

    def report(self, entity: str, dag_run):
        """The report of that DAG run (or run id), as its report task computes it (``hamgam.summary.RunReport``)."""
        from hamgam.config import load_config
        from hamgam.entities import SPECS
        from hamgam.summary import run_report

        run_id = dag_run if isinstance(dag_run, str) else dag_run.run_id
        return run_report(self.ledger(), entity, load_config().companies_for(entity), run_id=run_id,
                          dag_id=SPECS[entity].dag_id)

    @contextmanager
    def tadbir_connection(self, company: int, database: Path) -> Iterator[None]:
        """Point the Airflow connection of ``company``'s Tadbir at ``database`` meanwhile."""
        name = "AIRFLOW_CONN_TADBIR_DEFAULT" if company == 100 else f"AIRFLOW_CONN_TADBIR_{company}"
        saved = os.environ[name]
        os.environ[name] = json.dumps({"conn_type": "sqlite", "host": str(database)})
        try:
            yield
        finally:
            os.environ[name] = saved


def task_states(dag_run) -> dict[tuple[str, int], str]:
    """(task_id, map_index) -> state of every task instance of a DAG run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {(ti.task_id, ti.map_index): ti.state for ti in
                session.query(TaskInstance).filter(TaskInstance.dag_id == dag_run.dag_id,
                                                   TaskInstance.run_id == dag_run.run_id)}


def make_world(tmp: Path, **settings_overrides: Any) -> tuple[Path, dict, Path]:
    data = tmp / "data"
    built = build_demo(data / "demo")
    config = yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    config["sync"].update({"retries": 0, "chunk_size": 100, **settings_overrides})
    config["alerts"] = {"email_to": ["finance-data@example.com"], "from_email": "hamgam@example.com",
                        "smtp_conn_id": "smtp_default"}
    config_path = tmp / "hamgam.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return data, built, config_path


@contextmanager
def open_world(tmp: Path, airflow_home: Path, smtp: Mailbox, **settings: Any) -> Iterator[World]:
    """Demo data, a sandbox and a settings file; the environment points Airflow at them meanwhile."""
    data, built, config_path = make_world(tmp, **settings)
    with run_sandbox(data / "sandbox.sqlite") as sandbox:
        saved = dict(os.environ)
        os.environ.update(airflow_env(data, sandbox_url=sandbox.base_url, airflow_home=airflow_home,
                                      smtp_port=smtp.port, crm_max_attempts=2))
        os.environ["HAMGAM_CONFIG"] = str(config_path)
        try:
            yield World(data, built, sandbox, config_path)
        finally:
            os.environ.clear()
            os.environ.update(saved)
