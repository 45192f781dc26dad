"""One chaos world: its own copy of the demo Tadbir databases, ledger, settings, Payamgostar sandbox (a
process that can be crashed and restarted on the same port), hamgam web app (the sandbox's webhooks go to
it) and fault proxy in front of the sandbox; DAG runs in subprocesses the harness can SIGKILL.

Every wait is for a condition (a health answer, a lease released, a process ended) with a generous
deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from hamgam_dev.chaos.proxy import Call, FaultPlan, FaultProxy, Trigger
from hamgam_dev.devenv import DEMO_PASSWORD, DEMO_USER, DEMO_WEBHOOK_SECRET, ROOT, airflow_env

ENTITIES = ("identities", "products", "quotes", "sales_invoices", "sales_returns", "receipts", "payments")
FORWARD = tuple(f"tadbir_to_payamgostar__{e}" for e in ENTITIES)  # dependency order
REVERSE = ("payamgostar_to_tadbir__identities", "payamgostar_to_tadbir__quotes")
START_TIMEOUT = 90.0  # a server answering its health check, on a loaded machine
RUN_TIMEOUT = 900.0  # one `python -m hamgam_dev.run_dags` process
LEASE_TIMEOUT = 300.0  # a killed run's leases expiring
LEASE_TTL_SECONDS = 10  # the chaos settings' lease ttl: a killed run's lease is free again soon


class ChaosError(RuntimeError):
    """The harness could not do its job (a server did not start, a run hung): not a finding about hamgam."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, what: str, log: Path, nonce: str | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ChaosError(f"{what} exited with code {process.returncode} before it answered {url}:\n"
                             f"{_tail(log)}")
        try:
            answer = requests.get(url, timeout=2)
            instance = answer.json().get("instance") if answer.ok else None
            if answer.ok and (nonce is None or instance in (None, nonce)):
                return
        except (requests.RequestException, ValueError, AttributeError):
            pass
        time.sleep(0.1)
    raise ChaosError(f"{what} did not answer {url} within {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


class SandboxProcess:
    """``python -m pg_sandbox`` on a fixed port, so it can crash (SIGKILL) and come back where the proxy
    expects it, on the same database."""

    def __init__(self, db: Path, port: int, log: Path, settings: dict[str, Any]) -> None:
        self.db, self.port, self.log, self.settings = db, port, log, settings
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "pg_sandbox", "--host", "127.0.0.1", "--port", str(self.port),
                   "--db", str(self.db), "--log-level", "warning", "--no-access-log"]
        for name, value in self.settings.items():
            command += ["--" + name.replace("_", "-"), str(value)]
        nonce = secrets.token_hex(8)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG_SANDBOX_")}
        env["PG_SANDBOX_INSTANCE"] = nonce  # newer sandboxes answer /_sandbox/health with it
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        _wait_healthy(f"{self.url}/_sandbox/health", self.process, "the Payamgostar sandbox", self.log, nonce)

    def crash(self) -> None:
        """SIGKILL: what it committed stays, what it had queued (webhooks) and in-flight answers are lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        _stop(self.process)

    def admin(self, method: str, path: str, timeout: float = 60) -> Any:
        answer = requests.request(method, f"{self.url}/_sandbox/{path}", timeout=timeout)
        answer.raise_for_status()
        return answer.json()

    def records(self) -> list[dict[str, Any]]:
        return self.admin("GET", "records")

    def revoke_tokens(self) -> None:
        self.admin("POST", "tokens/revoke")

    def flush_webhooks(self, timeout: float = 110.0) -> None:
        answer = self.admin("POST", f"webhooks/flush?timeout={timeout}", timeout=timeout + 30)
        if not answer.get("flushed"):
            raise ChaosError(f"{answer.get('pending')} webhook(s) still pending in the sandbox after {timeout} s")


@dataclass
class HarnessEvent:
    """A kill of the DAG process or a sandbox crash, when it happened and around which call."""

    kind: str  # kill-load | sandbox-restart | token-revoked
    phase: str
    at: float  # time.monotonic()
    call: Call
    until: float | None = None  # sandbox-restart: when it answered again
    note: str = ""


@dataclass
class World:
    """``with World(...) as world: world.run_dags(FORWARD, plan)`` — see the module docstring."""

    name: str
    root: Path
    pristine: Path  # the demo Tadbir databases, built once
    airflow_home: Path
    seed: int
    latency_ms: int = 5
    client_timeout: float = 5.0
    events: list[HarnessEvent] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # every DAG run: phase, dag_id, state, seconds

    def __post_init__(self) -> None:
        self.data = self.root / "data"
        self.demo = self.data / "demo"
        self.logs = self.root / "logs"
        self.config_path = self.root / "hamgam.yaml"
        self.ledger_url = f"sqlite:///{self.data / 'hamgam_state.sqlite'}"
        self._process: subprocess.Popen | None = None
        self._kills: queue.Queue[threading.Event] = queue.Queue()
        self._errors: list[str] = []
        self._ledger = None

    # -- set up and tear down ----------------------------------------------------------------------
    def __enter__(self) -> World:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        shutil.copytree(self.pristine, self.demo)
        self.config = write_settings(self.config_path)
        self.sandbox = SandboxProcess(self.root / "sandbox.sqlite", free_port(), self.logs / "sandbox.log", {})
        self.proxy = FaultProxy(self.sandbox.url, seed=self.seed, on_trigger=self._on_trigger).start()
        self.env = self._environment()
        self.webapp_url, self._webapp = self._start_webapp()
        hooks = f"?token={DEMO_WEBHOOK_SECRET}"
        self.sandbox.settings = {"latency_ms": self.latency_ms,
                                 "webhook_identity_url": f"{self.webapp_url}/api/sync/customer{hooks}",
                                 "webhook_quote_url": f"{self.webapp_url}/api/sync/salequote{hooks}"}
        self.sandbox.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(self._process)
        self.proxy.stop()
        self.sandbox.stop()
        _stop(self._webapp)
        if self._ledger is not None:
            self._ledger.dispose()

    def _environment(self) -> dict[str, str]:
        env = airflow_env(self.data, sandbox_url=self.proxy.url, airflow_home=self.airflow_home)
        env["AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT"] = json.dumps({
            "conn_type": "http", "host": self.proxy.url, "login": DEMO_USER, "password": DEMO_PASSWORD,
            "extra": {"timeout": self.client_timeout, "max_attempts": 5}})
        env["HAMGAM_CONFIG"] = str(self.config_path)
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
        return {**os.environ, **env}

    def _start_webapp(self) -> tuple[str, subprocess.Popen]:
        port = free_port()
        log = self.logs / "webapp.log"
        with open(log, "w", encoding="utf-8") as out:
            process = subprocess.Popen([sys.executable, "-m", "hamgam.webapp", "--port", str(port),
                                        "--log-level", "warning"], env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{url}/health", process, "the hamgam web app", log)
        return url, process

    @property
    def ledger(self):
        if self._ledger is None:
            from hamgam.ledger.store import Ledger

            self._ledger = Ledger.connect(self.ledger_url)
        return self._ledger

    def companies(self) -> list[int]:
        return [int(c["code"]) for c in self.config["companies"]]

    # -- running DAGs ---------------------------------------------------------------------------------
    def run_dags(self, dag_ids: tuple[str, ...] | list[str], plan: FaultPlan,
                 progress: Callable[[str], None] = print) -> list[dict[str, Any]]:
        """Run ``dag_ids`` in order (``python -m hamgam_dev.run_dags``) under ``plan``. When a trigger kills
        the process, wait until its leases are free and run the rest again, the killed DAG first: under
        ``dag.test()`` Airflow does not retry, running the DAG again is the retry."""
        self.proxy.set_plan(plan)
        remaining, results, attempt = list(dag_ids), [], 0
        while remaining:
            attempt += 1
            log = self.logs / f"{plan.name}.{attempt}.log"
            with open(log, "w", encoding="utf-8") as out:
                self._process = subprocess.Popen([sys.executable, "-m", "hamgam_dev.run_dags", *remaining],
                                                 env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True)
            killed = self._watch(self._process, log)
            done = [json.loads(line) for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
                    if line.startswith('{"dag_id"')]
            for result in done:
                result["phase"] = plan.name
            results += done
            self.runs += done
            remaining = remaining[len(done):]
            if killed:
                progress(f"killed the DAG process during {remaining[0]}; waiting for its leases, then "
                         f"running {len(remaining)} DAG(s) again")
                self.wait_for_leases()
                continue
            if remaining:
                raise ChaosError(f"{self.name}/{plan.name}: `python -m hamgam_dev.run_dags` exited with code "
                                 f"{self._process.returncode} before running {remaining}:\n{_tail(log)}")
        if self._errors:
            raise ChaosError("; ".join(self._errors))
        return results

    def first_errors(self, phase: str, limit: int = 3) -> list[str]:
        """The first distinct exception lines in the logs of a phase's DAG processes."""
        found: list[str] = []
        for log in sorted(self.logs.glob(f"{phase}.*.log")):
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                head = line.split(":", 1)[0]
                if (head.endswith(("Error", "Exception")) and " " not in head.strip()
                        and line.strip() not in found):
                    found.append(line.strip())
                    if len(found) >= limit:
                        return found
        return found

    def _watch(self, process: subprocess.Popen, log: Path) -> bool:
        """Wait for ``process`` to end; SIGKILL its process group when a trigger asks. True if killed."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while process.poll() is None:
            try:
                done = self._kills.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise ChaosError(f"{self.name}: a DAG run did not finish within {RUN_TIMEOUT:.0f} s (killed); "
                                     f"see {log}") from None
                continue
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the run and anything it started
            process.wait()
            done.set()
            return True
        return False

    def wait_for_leases(self) -> None:
        """Until no lease of a forward entity is held (a killed run's lease expires after its ttl)."""
        deadline = time.monotonic() + LEASE_TIMEOUT
        for company in self.companies():
            for entity in ENTITIES:
                while (holder := self.ledger.lease_holder(company, entity)) is not None:
                    if time.monotonic() > deadline:
                        raise ChaosError(f"the lease of company {company} {entity} is still held by {holder[0]!r} "
                                         f"{LEASE_TIMEOUT:.0f} s after the run was killed")
                    time.sleep(0.2)

    def _on_trigger(self, trigger: Trigger, call: Call) -> str | None:
        """Carry out a proxy trigger (in the proxy's thread that is handling ``call``)."""
        event = HarnessEvent(trigger.event, call.phase, time.monotonic(), call)
        self.events.append(event)
        if trigger.event == "token-revoked":
            self.sandbox.revoke_tokens()
            return None
        if trigger.event == "kill-load":  # the write is committed in the CRM; its answer never arrives
            process = self._process
            if process is None or process.poll() is not None:
                event.note = "no DAG process was running"
                return "drop"
            done = threading.Event()
            self._kills.put(done)
            if not done.wait(120):
                self._errors.append(f"the kill at {call.operation} {call.subject} was not carried out in 120 s")
            return "drop"
        if trigger.event == "sandbox-restart":  # crash after the commit, then start again in the background
            self.sandbox.crash()
            threading.Thread(target=self._restart, args=(event,), daemon=True).start()
            return "drop"
        raise ValueError(f"unknown trigger {trigger.event!r}")

    def _restart(self, event: HarnessEvent) -> None:
        try:
            self.sandbox.start()
            event.until = time.monotonic()
        except ChaosError as exc:
            self._errors.append(f"the sandbox did not come back after its crash: {exc}")

    def wait_sandbox_up(self) -> None:
        """Until a crashed sandbox is back (before the harness talks to it directly)."""
        deadline = time.monotonic() + START_TIMEOUT + 30
        while any(e.kind == "sandbox-restart" and e.until is None for e in self.events):
            if self._errors or time.monotonic() > deadline:
                raise ChaosError("; ".join(self._errors) or "the sandbox did not come back after its crash")
            time.sleep(0.1)


def write_settings(path: Path) -> dict[str, Any]:
    """The chaos copy of config/hamgam.yaml: no Airflow retries (running again is the retry), no alert
    e-mail, and a short lease ttl where the settings have one, so a killed run's lease is free again soon."""
    from hamgam.config import SyncConfig

    config = yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    sync = config.setdefault("sync", {})
    sync["retries"] = 0
    if "lease_ttl_seconds" in SyncConfig.model_fields:
        sync["lease_ttl_seconds"] = LEASE_TTL_SECONDS
    config["alerts"] = {"email_to": []}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return config


def migrate_airflow(airflow_home: Path, data: Path) -> None:
    env = {**os.environ, **airflow_env(data, airflow_home=airflow_home)}
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ChaosError(f"`airflow db migrate` failed:\n{(result.stdout + result.stderr)[-3000:]}")
