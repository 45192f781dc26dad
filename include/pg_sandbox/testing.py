"""Run the sandbox as a real subprocess for tests.

    with run_sandbox(tmp_path / "pg.sqlite", error_rate=0.2, seed=7) as pg:
        client = PayamgostarClient(pg.base_url, "hamgam", "hamgam-demo")
        ...
        assert pg.stats()["writes"] == 3

Bad answers: `pg.set_faults(html_after_commit_rate=1.0)` (or html_page_rate, truncated_json_rate,
truncated_soap_rate, soap_fault_after_commit_rate); `pg.clear_faults()` turns every fault off.

Webhooks: `run_sandbox(..., webhook_identity_url=receiver_url)` or `pg.set_faults(webhook_...=...)`,
then `pg.flush_webhooks()` and `pg.webhooks()`.
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from pg_sandbox.settings import SandboxSettings

START_TIMEOUT_SECONDS = 20.0
# the bad-answer fault rates (settings.py): an HTML page before / after the write, a cut-off JSON or
# SOAP answer, a SOAP Client fault after the write
ANSWER_FAULTS = ("html_page_rate", "html_after_commit_rate", "truncated_json_rate", "truncated_soap_rate",
                 "soap_fault_after_commit_rate")


class SandboxStartError(RuntimeError):
    pass


class RunningSandbox:
    """A started sandbox process: its base URL and the /_sandbox admin calls."""

    def __init__(self, base_url: str, process: subprocess.Popen, db_path: Path, username: str,
                 password: str, instance: str | None = None) -> None:
        self.base_url = base_url
        self.process = process
        self.db_path = db_path
        self.username = username
        self.password = password
        self.instance = instance  # the nonce its /_sandbox/health answers with

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._admin("POST", "stats/reset")

    def settings(self) -> dict[str, Any]:
        return self._admin("GET", "settings")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change runtime settings, e.g. `set_faults(error_rate=1.0)`; returns all of them."""
        return self._admin("POST", "settings", changes)

    def clear_faults(self) -> dict[str, Any]:
        """Every fault off: the rates, SOAP refusals answered as faults, no denied operations or poison numbers."""
        return self.set_faults(latency_ms=0, error_rate=0.0, error_after_commit_rate=0.0, rate_limit_rate=0.0,
                               slow_rate=0.0, slow_ms=0, webhook_drop_rate=0.0, **{name: 0.0 for name in ANSWER_FAULTS},
                               soap_refusal="fault", soap_denied_operations=[], soap_fault_numbers=[])

    def records(self, *kinds: str) -> list[dict[str, Any]]:
        """Live records, each with its `kind`; only those of `kinds` when given (e.g. "person", "product")."""
        return self._admin("GET", "records" + (f"?kind={','.join(kinds)}" if kinds else ""))

    def renumber(self, crm_id: str, number: str) -> None:
        """Rewrite a document's number as the CRM's numbering template would ("" blanks it); it sticks."""
        self._admin("POST", f"records/{crm_id}/number", {"number": number})

    def reset(self) -> None:
        """Wipe all records: identities, products, invoices, payments."""
        self._admin("POST", "reset")

    def revoke_tokens(self) -> None:
        self._admin("POST", "tokens/revoke")

    def webhooks(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Logged webhook outcomes, oldest first: seq, at, outcome (sent/failed/dropped), status, attempts,
        error, url (query values masked), event, id, type, subtype."""
        return self._admin("GET", "webhooks" + (f"?limit={limit}" if limit else ""))

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until every queued webhook has been sent or has failed; TimeoutError after `timeout` s."""
        answer = self._admin("POST", f"webhooks/flush?timeout={timeout}", timeout=timeout + 10)
        if not answer["flushed"]:
            raise TimeoutError(f"{answer['pending']} webhook(s) still pending after {timeout} s")

    def clear_webhooks(self) -> None:
        """Forget the logged webhook outcomes (counters stay until reset_stats)."""
        self._admin("POST", "webhooks/clear")

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10) -> Any:
        response = requests.request(method, f"{self.base_url}/_sandbox/{path}", json=body, timeout=timeout)
        response.raise_for_status()
        return response.json()


@contextmanager
def run_sandbox(db_path: str | os.PathLike, port: int | None = None, **settings: Any) -> Iterator[RunningSandbox]:
    """Start `python -m pg_sandbox` on `port` (default: a free one) and stop it on exit.

    `settings` are SandboxSettings fields (latency_ms=..., error_rate=..., seed=...). The process gets a
    random instance nonce, and only a /_sandbox/health answering with it counts as started: another server
    on the port (one that kept it, or took it first) is never taken for this sandbox (SandboxStartError).
    """
    unknown = set(settings) - {f for f in SandboxSettings.__dataclass_fields__ if f != "db_path"}
    if unknown:
        raise TypeError(f"unknown sandbox settings: {', '.join(sorted(unknown))}")
    port = port or free_port()
    command = [sys.executable, "-m", "pg_sandbox", "--host", "127.0.0.1", "--port", str(port),
               "--db", str(db_path), "--log-level", "warning", "--no-access-log"]
    for name, value in settings.items():
        command += ["--" + name.replace("_", "-"), _flag_value(value)]
    base_url = f"http://127.0.0.1:{port}"
    instance = secrets.token_hex(16)
    env = {**_child_env(), "PG_SANDBOX_INSTANCE": instance}  # pg_sandbox.app.INSTANCE_ENV
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        try:
            _wait_until_healthy(process, base_url, stderr, instance)
            yield RunningSandbox(base_url, process, Path(db_path), settings.get("username", SandboxSettings.username),
                                 settings.get("password", SandboxSettings.password), instance)
        finally:
            _stop(process)


def _flag_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ",".join(value)  # product_units
    return str(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env() -> dict[str, str]:
    # settings come from flags only, so a developer's PG_SANDBOX_* variables cannot leak in
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG_SANDBOX_")}
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _wait_until_healthy(process: subprocess.Popen, base_url: str, stderr, instance: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    stranger = False  # something answered on the port, but not this process

    def hint() -> str:
        where = base_url.removeprefix("http://")
        return f" (another server answers on {where}; it was sent nothing but health checks)" if stranger else ""

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxStartError(f"pg_sandbox exited with code {process.returncode} before it was healthy"
                                    f"{hint()}:\n{_read(stderr)}")
        try:
            answer = requests.get(f"{base_url}/_sandbox/health", timeout=1)
            if answer.ok and _instance_of(answer) == instance:
                return
            stranger = True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    _stop(process)
    raise SandboxStartError(f"pg_sandbox did not answer {base_url}/_sandbox/health within "
                            f"{START_TIMEOUT_SECONDS:.0f} s{hint()}:\n{_read(stderr)}")


def _instance_of(answer: requests.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("instance") if isinstance(body, dict) else None


def _read(stderr) -> str:
    stderr.seek(0)
    return stderr.read().decode(errors="replace").strip() or "(no output on stderr)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
