"""The web app under a real uvicorn: `python -m hamgam.webapp` (the demo's way, no Airflow), a token
masked in its access log, and an answer that does not wait for the notification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import uvicorn
from webapp_support import GUID, SECRET

from hamgam.ledger import Ledger
from hamgam.webapp import create_app
from hamgam.webapp.__main__ import mask_query
from hamgam_dev.airflow_server import free_port


def test_mask_query_hides_only_the_token():
    assert mask_query(f"event=Insert&id={GUID}&token={SECRET}") == f"event=Insert&id={GUID}&token=%2A%2A%2A"
    assert mask_query("event=Insert") == "event=Insert"
    assert mask_query("") == ""


def _wait_until_up(url: str, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout} s")


def test_python_m_hamgam_webapp_serves_the_webhooks_and_masks_the_token(tmp_path: Path, demo_dir: Path):
    port = free_port()
    state = tmp_path / "hamgam_state.sqlite"
    env = {**os.environ,
           "AIRFLOW_CONN_HAMGAM_WEBHOOK": json.dumps({"conn_type": "generic", "password": SECRET}),
           "AIRFLOW_CONN_HAMGAM_STATE": json.dumps({"conn_type": "sqlite", "host": str(state)}),
           "AIRFLOW_CONN_TADBIR_DEFAULT": json.dumps({"conn_type": "sqlite",
                                                      "host": str(demo_dir / "tadbir_100.sqlite")})}
    log_file = tmp_path / "webapp.log"
    url = f"http://127.0.0.1:{port}"
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "hamgam.webapp", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(url, process)
        params = {"event": "Insert", "id": GUID, "type": "Identity", "subtype": "مخاطب حقیقی", "token": SECRET}
        # as Payamgostar sends it: GET, no body, no User-Agent
        first = requests.get(f"{url}/api/sync/customer", params=params, headers={"User-Agent": None}, timeout=10)
        again = requests.get(f"{url}/api/sync/customer", params={**params, "event": "Update"}, timeout=10)
        refused = requests.get(f"{url}/api/sync/customer", params={**params, "token": "wrong"}, timeout=10)
        stock = requests.get(f"{url}/api/inventory", params={"token": SECRET, "exclude_warehouses": "2"},
                             timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert (first.status_code, first.json()) == (200, {"stored": True})
    assert (again.status_code, again.json()) == (200, {"stored": False})
    assert refused.status_code == 401
    assert stock.status_code == 200 and stock.json() and {x["warehouseCode"] for x in stock.json()} == {"1"}
    with Ledger.connect(f"sqlite:///{state}") as ledger:
        [event] = ledger.pending_events("customer")
        assert (event.crm_id, event.deliveries) == (GUID, 2)
    output = log_file.read_text(encoding="utf-8", errors="replace")
    assert "GET /api/sync/customer?event=Insert" in output and "token=%2A%2A%2A" in output
    assert "no Airflow to notify: asset event for hamgam://payamgostar/customer not emitted" in output
    assert SECRET not in output


@pytest.fixture
def served(tmp_path: Path):
    """create_app under uvicorn in a thread, with a notifier that takes 3 seconds."""
    calls: list[tuple[float, str]] = []

    def slow_notify(asset_uri: str, extra: dict) -> None:
        time.sleep(3)
        calls.append((time.monotonic(), asset_uri))

    app = create_app(ledger_url_resolver=lambda: f"sqlite:///{tmp_path / 'ledger.sqlite'}",
                     secret_resolver=lambda: SECRET, notify=slow_notify)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}"
    _wait_until_up(url)
    yield url, calls
    server.should_exit = True
    thread.join(timeout=20)
    app.state.ledgers.dispose()


def test_the_answer_does_not_wait_for_the_notification(served):
    url, calls = served
    requests.get(f"{url}/api/sync/salequote", params={"event": "Insert", "id": GUID, "token": SECRET},
                 timeout=10)  # the ledger is opened (and migrated) on the first request; time the second
    time.sleep(3.5)

    started = time.monotonic()
    response = requests.get(f"{url}/api/sync/salequote", params={"event": "Update", "id": GUID, "token": SECRET},
                            timeout=10)
    answered = time.monotonic()

    assert (response.status_code, response.json()) == (200, {"stored": False})
    assert answered - started < 1.5
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [uri for _, uri in calls] == ["hamgam://payamgostar/salequote"] * 2
    assert calls[1][0] - answered > 1.0  # notified well after the answer went out
