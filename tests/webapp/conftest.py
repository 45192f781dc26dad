"""Fixtures of the web app tests: the app with a temporary SQLite ledger, a known secret and a recording
notifier; a demo Tadbir (one SQLite file per company) reachable through AIRFLOW_CONN_* variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webapp_support import SECRET, Notifier, make_client

from hamgam.ledger import Ledger
from hamgam.webapp import create_app
from throwaway_pg import BACKENDS, pg_database


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture(params=BACKENDS)
def any_ledger_url(request, tmp_path: Path) -> Iterator[str]:
    """A ledger on SQLite (a temporary file) or on a fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    with pg_database("hamgam_webapp_test") as url:
        yield url


@pytest.fixture
def notifier() -> Notifier:
    return Notifier()


@pytest.fixture
def app(ledger_url: str, notifier: Notifier) -> Iterator[Any]:
    app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=lambda: SECRET, notify=notifier)
    yield app
    app.state.ledgers.dispose()


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    with make_client(app) as client:
        yield client


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger.connect(ledger_url) as opened:
        yield opened


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo Tadbir databases of companies 100 and 200 (fiscal years 1403 and 1404)."""
    from tadbir_demo import build_demo

    out = tmp_path_factory.mktemp("tadbir-demo")
    build_demo(out)
    return out


@pytest.fixture
def tadbir(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo databases behind the connections config/hamgam.yaml names, set as hamgam_dev.devenv sets
    them."""
    for conn_id, code in (("TADBIR_DEFAULT", 100), ("TADBIR_200", 200)):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}",
                           json.dumps({"conn_type": "sqlite", "host": str(demo_dir / f"tadbir_{code}.sqlite")}))
    return demo_dir
