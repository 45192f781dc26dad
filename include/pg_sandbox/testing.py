"""Run the sandbox as a real subprocess for tests.

    with run_sandbox(tmp_path / "pg.sqlite", error_rate=0.2, seed=7) as pg:
        client = PayamgostarClient(pg.base_url, "hamgam", "hamgam-demo")
        ...
        assert pg.stats()["writes"] == 3

Webhooks: `run_sandbox(..., webhook_identity_url=receiver_url)` or `pg.set_faults(webhook_...=...)`,
then `pg.flush_webhooks()` and `pg.webhooks()`.
"""

import os
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


class SandboxStartError(RuntimeError):
    pass


class RunningSandbox:
    """A started sandbox process: its base URL and the /_sandbox admin calls."""

    def __init__(self, base_url: str, process: subprocess.Popen, db_path: Path, username: str,
                 password: str) -> None:
        self.base_url = base_url
        self.process = process
        self.db_path = db_path
        self.username = username
        self.password = password

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
        return self.set_faults(latency_ms=0, error_rate=0.0, error_after_commit_rate=0.0, rate_limit_rate=0.0,
                               slow_rate=0.0, slow_ms=0, webhook_drop_rate=0.0)

    def records(self, *kinds: str) -> list[dict[str, Any]]:
        """Live records, each with its `kind`; only those of `kinds` when given (e.g. "person", "product")."""
        return self._admin("GET", "records" + (f"?kind={','.join(kinds)}" if kinds else ""))

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

    `settings` are SandboxSettings fields (latency_ms=..., error_rate=..., seed=...).
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
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=_child_env())
        try:
            _wait_until_healthy(process, base_url, stderr)
            yield RunningSandbox(base_url, process, Path(db_path), settings.get("username", SandboxSettings.username),
                                 settings.get("password", SandboxSettings.password))
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


def _wait_until_healthy(process: subprocess.Popen, base_url: str, stderr) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxStartError(f"pg_sandbox exited with code {process.returncode} before it was healthy:\n"
                                    f"{_read(stderr)}")
        try:
            if requests.get(f"{base_url}/_sandbox/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    _stop(process)
    raise SandboxStartError(f"pg_sandbox did not answer {base_url}/_sandbox/health within "
                            f"{START_TIMEOUT_SECONDS:.0f} s:\n{_read(stderr)}")


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
