"""`make demo` starts servers of its own and talks only to them: its sandbox and its web app run on ports it
picks (or on a configured port only when that is free), each started with a random instance nonce that
its /health must answer with, so another server on the port (`make up`'s sandbox, a decoy) is never
written to; and its files are not the ones `make up` uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import pg_sandbox.testing
from hamgam_dev import demo, up
from hamgam_dev.devenv import ROOT, airflow_env
from pg_sandbox.testing import SandboxStartError, run_sandbox


@dataclass
class Decoy:
    """An HTTP server that says yes to everything (200, a healthy-looking JSON) and records every request."""

    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def decoy_server() -> Iterator[Decoy]:
    decoy = Decoy(0)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            decoy.requests.append((self.command, self.path))
            body = json.dumps({"status": "ok", "instance": "decoy", "flushed": True, "pending": 0}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    decoy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="decoy", daemon=True)
    thread.start()
    try:
        assert requests.get(f"{decoy.url}/_sandbox/health", timeout=5).json()["status"] == "ok"
        decoy.requests.clear()
        yield decoy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def decoy() -> Iterator[Decoy]:
    with decoy_server() as running:
        yield running


# -- the sandbox ------------------------------------------------------------------------------------------
def test_the_demo_refuses_a_configured_sandbox_port_another_server_listens_on(decoy, tmp_path):
    with pytest.raises(SystemExit) as refused:
        with demo.start_sandbox(tmp_path / "sandbox.sqlite", decoy.port):
            pytest.fail("the demo used a port another server listens on")
    assert f"port {decoy.port}" in str(refused.value) and "in use" in str(refused.value)
    assert decoy.requests == []


def test_a_sandbox_that_could_not_take_its_port_is_not_mistaken_for_the_server_there(decoy, tmp_path):
    """The port looked free when the demo picked it; by the time its sandbox starts, another server has it.
    That server answers /_sandbox/health, but not with this sandbox's instance nonce: start-up fails loudly
    and nothing but health checks reached the other server (no writes, no counter reset)."""
    with pytest.raises(SandboxStartError, match=f"another server answers on 127.0.0.1:{decoy.port}"):
        with run_sandbox(tmp_path / "sandbox.sqlite", port=decoy.port):
            pytest.fail("run_sandbox took the decoy for its sandbox")
    assert decoy.requests and set(decoy.requests) == {("GET", "/_sandbox/health")}


def test_the_demo_fails_loudly_when_the_free_port_it_picked_was_taken_meanwhile(decoy, tmp_path, monkeypatch):
    monkeypatch.setattr(pg_sandbox.testing, "free_port", lambda: decoy.port)
    with pytest.raises(SystemExit, match="did not start"):
        with demo.start_sandbox(tmp_path / "sandbox.sqlite", None):
            pytest.fail("the demo used the decoy")
    assert set(decoy.requests) <= {("GET", "/_sandbox/health")}


def test_the_demo_sandbox_runs_on_a_free_port_of_its_own_and_proves_it(decoy, tmp_path):
    with demo.start_sandbox(tmp_path / "sandbox.sqlite", None) as sandbox:
        assert not sandbox.base_url.endswith(f":{decoy.port}")
        health = requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=5).json()
        assert health["status"] == "ok" and health["instance"] == sandbox.instance
        assert len(sandbox.instance) >= 16
    assert decoy.requests == []


# -- the web app ------------------------------------------------------------------------------------------
def _webapp_env(tmp_path: Path) -> dict[str, str]:
    return airflow_env(tmp_path / "data", airflow_home=tmp_path / "airflow")


def test_the_demo_refuses_a_configured_webapp_port_another_server_listens_on(decoy, tmp_path):
    with pytest.raises(SystemExit) as refused:
        with demo.serve_webapp(_webapp_env(tmp_path), decoy.port):
            pytest.fail("the demo used a port another server listens on")
    assert f"port {decoy.port}" in str(refused.value) and "in use" in str(refused.value)
    assert decoy.requests == []


def test_a_webapp_that_could_not_take_its_port_is_not_mistaken_for_the_server_there(decoy, tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "free_port", lambda: decoy.port)
    with pytest.raises(SystemExit, match="did not start"):
        with demo.serve_webapp(_webapp_env(tmp_path), None):
            pytest.fail("the demo took the decoy for its web app")
    assert set(decoy.requests) <= {("GET", "/health")}


def test_the_demo_webapp_runs_on_a_free_port_of_its_own_and_proves_it(decoy, tmp_path):
    with demo.serve_webapp(_webapp_env(tmp_path), None) as webapp:
        assert not webapp.url.endswith(f":{decoy.port}")
        assert requests.get(f"{webapp.url}/health", timeout=5).json() == {"status": "ok",
                                                                         "instance": webapp.instance}
    assert decoy.requests == []


# -- the files --------------------------------------------------------------------------------------------
def _make_up_files() -> tuple[Path, Path]:
    """Where `make up` keeps its files: its default data directory (hamgam_dev.up) and its Airflow home
    (hamgam_dev.devenv's default)."""
    return up.DATA.resolve(), Path(airflow_env(ROOT / "data")["AIRFLOW_HOME"])


DATA_FILES = ("sandbox.sqlite", "hamgam_state.sqlite", "demo/tadbir_100.sqlite", "demo/tadbir_200.sqlite")


def test_the_demo_does_not_use_make_ups_files():
    up_data, up_airflow = _make_up_files()
    data, airflow_home = demo.demo_dirs(None, prepare_only=False)
    for name in DATA_FILES:
        assert data / name != up_data / name, name
    assert airflow_home != up_airflow and up_airflow not in airflow_home.parents
    # `make airflow-init` (the demo's --prepare-only) is what prepares make up's files
    assert demo.demo_dirs(None, prepare_only=True) == (up_data, up_airflow)


def test_the_demo_refuses_to_run_on_make_ups_data_directory():
    up_data, _ = _make_up_files()
    with pytest.raises(SystemExit, match="make up"):
        demo.demo_dirs(up_data, prepare_only=False)
