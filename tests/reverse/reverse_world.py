"""The world of the reverse-flow tests (Payamgostar → Tadbir): the demo Tadbir databases of companies 100 and
200 after a forward sync of identities, products and quotes into the real sandbox, cloned per test module.

Building the forward-synced world costs ~10 s, so it is built once per session (``build_base``) and every
module gets its own copy (``open_clone``: SQLite backups of the Tadbir databases, the ledger and the
sandbox's store, then a sandbox process on the copy). The environment points the hamgam tasks (and
Airflow's connections) at the clone while the module runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hamgam_dev.devenv import ROOT, airflow_env
from pg_sandbox.testing import RunningSandbox, run_sandbox
from tadbir_demo import build_demo

COMPANIES = (100, 200)
FORWARD_ENTITIES = ("identities", "products", "quotes")
CURRENT_PERIOD, CLOSED_PERIOD = 2, 1  # the demo's fiscal periods: 1404 (open, newest) and 1403
SQLITE_FILES = ("hamgam_state.sqlite", "sandbox.sqlite", "demo/tadbir_100.sqlite", "demo/tadbir_200.sqlite")
SECRET = "reverse-tests-secret"
EARLIEST = "2000-01-01T00:00:00"  # a sweep cursor before everything


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    config["sync"].update({"retries": 0, "chunk_size": 100})
    config["alerts"] = {"email_to": []}
    return config


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def env_for(data: Path, sandbox_url: str, config_path: Path) -> dict[str, str]:
    env = airflow_env(data, sandbox_url=sandbox_url, airflow_home=Path(os.environ["AIRFLOW_HOME"]),
                      crm_max_attempts=2)
    env["HAMGAM_CONFIG"] = str(config_path)
    env["AIRFLOW_CONN_HAMGAM_WEBHOOK"] = json.dumps({"conn_type": "generic", "password": SECRET})
    return env


def copy_sqlite(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def build_base(tmp: Path) -> Path:
    """Demo data, forward-synced (identities, products, quotes of both companies); returns the snapshot dir."""
    from hamgam import tasks

    work = tmp / "build"
    build_demo(work / "demo")
    config_path = tmp / "hamgam-base.yaml"
    config_path.write_text(yaml.safe_dump(base_config(), allow_unicode=True), encoding="utf-8")
    with run_sandbox(work / "sandbox.sqlite") as sandbox, \
            environment(env_for(work, sandbox.base_url, config_path)):
        for entity in FORWARD_ENTITIES:
            for company in COMPANIES:
                detected = tasks.detect(entity, company, run_id="base")
                tasks.load(entity, detected, dag_id="base", run_id="base")
    snapshot = tmp / "snapshot"
    for name in SQLITE_FILES:
        copy_sqlite(work / name, snapshot / name)
    return snapshot


@dataclass
class ReverseWorld:
    root: Path
    data: Path
    sandbox: RunningSandbox
    config_path: Path
    _variants: dict[str, Path] = field(default_factory=dict)

    # -- Tadbir -----------------------------------------------------------------------------------
    def tadbir_path(self, company: int) -> Path:
        return self.data / "demo" / f"tadbir_{company}.sqlite"

    def tadbir(self, company: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.tadbir_path(company))
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, company: int, sql: str, *params: Any) -> list[dict[str, Any]]:
        conn = self.tadbir(company)
        try:
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def digests(self) -> dict[int, str]:
        """Each Tadbir database file's SHA-256: any write (even of equal values) changes it."""
        return {c: hashlib.sha256(self.tadbir_path(c).read_bytes()).hexdigest() for c in COMPANIES}

    def customer(self, company: int, code: str, period: int = CURRENT_PERIOD) -> dict[str, Any] | None:
        rows = self.query(company, "SELECT * FROM __Customer__ WHERE FPId = ? AND SubscriptionNo = ?", period, code)
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def quotes(self, company: int, period: int = CURRENT_PERIOD) -> dict[int, dict[str, Any]]:
        """Tadbir quotes (FactorType 4) of a period by FactorNo."""
        rows = self.query(company, "SELECT * FROM __SPFactor__ WHERE FPId = ? AND FactorType = 4", period)
        return {int(r["FactorNo"]): r for r in rows}

    def lines(self, company: int, sp_id: int, period: int = CURRENT_PERIOD) -> list[dict[str, Any]]:
        return self.query(company, "SELECT * FROM __SPArticle__ WHERE FPId = ? AND SPId = ? ORDER BY Id",
                          period, sp_id)

    def merchandise_id(self, company: int, code: str, period: int = CURRENT_PERIOD) -> int:
        return self.query(company, "SELECT Id FROM __Merchandise__ WHERE FPId = ? AND Code = ?", period, code)[0]["Id"]

    def stock_room_id(self, company: int, code: int, period: int = CURRENT_PERIOD) -> int:
        return self.query(company, "SELECT Id FROM __StockRoom__ WHERE FPId = ? AND Code = ?", period, code)[0]["Id"]

    # -- the CRM ----------------------------------------------------------------------------------
    @contextmanager
    def client(self):
        from hamgam.payamgostar.client import PayamgostarClient

        with PayamgostarClient(self.sandbox.base_url, self.sandbox.username, self.sandbox.password,
                               max_attempts=2, sleep=lambda s: None) as client:
            yield client

    def crm_identity(self, number: str) -> dict[str, Any]:
        found = [r for r in self.sandbox.records("person", "organization") if r.get("customerNumber") == number]
        assert len(found) == 1, (number, found)
        return found[0]

    def create_person(self, number: str | None, *, first: str = "سارا", last: str = "کریمی",
                      national_code: str | None = None, **extra: Any) -> str:
        payload = {"crmObjectTypeCode": "person", "firstName": first, "lastName": last,
                   "nickName": f"{first} {last}", "phoneContacts": [
                       {"phoneType": "موبایل", "phoneNumber": "09121234567", "default": True}], **extra}
        if number is not None:
            payload["customerNumber"] = number
        if national_code is not None:
            payload["nationalCode"] = national_code
        with self.client() as client:
            return client.create_identity("person", payload)

    def create_organization(self, number: str, name: str, *, national_id: str | None = None, **extra: Any) -> str:
        payload = {"crmObjectTypeCode": "organization", "nickName": name, "customerNumber": number, **extra}
        if national_id is not None:
            payload["nationalCode"] = national_id
        with self.client() as client:
            return client.create_identity("organization", payload)

    def update_identity(self, kind: str, crm_id: str, **changes: Any) -> None:
        with self.client() as client:
            client.update_identity(kind, crm_id, changes)

    def product_id(self, code: str) -> str:
        with self.client() as client:
            found = client.find_product_by_code(code)
            assert found is not None, f"no CRM product {code}"
            return found["Id"]

    def save_quote(self, number: str, identity_id: str, lines: list[tuple[str, int, int]] | None = None, *,
                   crm_id: str | None = None, subject: str = "پیش فاکتور", date: str = "2025-07-01T00:00:00"
                   ) -> str:
        """Save a quote in the CRM (``crm_id``: replace that one); ``lines``: (product code, count, unit price)."""
        lines = [("100-1001", 2, 1_000_000)] if lines is None else lines
        details = []
        for code, count, price in lines:
            total = count * price
            details.append({"BaseUnitPrice": price, "Count": count, "FinalUnitPrice": total * 109 // 100, "Id": 0,
                            "IsService": False, "ProductCode": code, "ProductId": self.product_id(code),
                            "ProductName": code, "ReturnedCount": 0, "TotalDiscount": 0, "TotalToll": 0,
                            "TotalUnitPrice": total, "TotalVat": total * 9 // 100})
        total = sum(count * price for _, count, price in lines)
        info = {"CrmObjectTypeCode": "quote", "Number": number, "IdentityId": identity_id, "Subject": subject,
                "InvoiceType": "Quote", "InvoiceDate": date, "Discount": 0, "Toll": 0, "TollPercent": 0,
                "TotalDiscountPercent": 0, "TotalValue": total, "Vat": total * 9 // 100, "VatPercent": 9,
                "FinalValue": total * 109 // 100, "Details": details}
        if crm_id is not None:
            info["CrmId"] = crm_id
        with self.client() as client:
            return client.save_quote(info)

    def delete_quote(self, number: str) -> None:
        with self.client() as client:
            assert client.delete_quote_by_number(number, "quote")

    def writes(self) -> int:
        return self.sandbox.stats().get("writes", 0)

    # -- hamgam -----------------------------------------------------------------------------------
    def ledger(self):
        from hamgam.config import load_config
        from hamgam.tasks import open_ledger

        return open_ledger(load_config())

    @contextmanager
    def configured(self, **changes: Any) -> Iterator[Path]:
        """Run with a settings variant: the base settings with ``changes`` merged in (nested dicts)."""
        text = yaml.safe_dump(merged(base_config(), changes), allow_unicode=True, sort_keys=True)
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        path = self._variants.get(digest)
        if path is None:  # load_config caches per path: one file per variant
            path = self._variants[digest] = self.root / f"hamgam-{digest}.yaml"
            path.write_text(text, encoding="utf-8")
        saved = os.environ["HAMGAM_CONFIG"]
        os.environ["HAMGAM_CONFIG"] = str(path)
        try:
            yield path
        finally:
            os.environ["HAMGAM_CONFIG"] = saved

    def reverse(self, source: str, *, sweep: bool = False, run_id: str = "rev") -> dict[str, int]:
        from hamgam.reverse import run

        return run.apply(run.collect(source, sweep=sweep), run_id=run_id)

    def event(self, source: str, crm_id: str, event: str = "Update", subtype: str | None = None) -> None:
        kind = {"customer": "Identity", "salequote": "Quote"}[source]
        self.ledger().store_event(source, event, crm_id, kind, subtype)

    def apply_events(self, source: str, *crm_ids: str, event: str = "Update", run_id: str = "rev") -> dict[str, int]:
        """Store one webhook event per id and run the reverse flow on pending events (no sweep)."""
        for crm_id in crm_ids:
            self.event(source, crm_id, event)
        return self.reverse(source, run_id=run_id)

    def crm_record(self, entity: str, crm_id: str):
        """The reverse flow's ledger record of a CRM id (crm_identities / crm_quotes), whatever the company."""
        ledger = self.ledger()
        found = [s for c in COMPANIES if (s := ledger.get(c, entity, crm_id)) is not None]
        assert len(found) == 1, (entity, crm_id, found)
        return found[0]

    def event_of(self, crm_id: str, source: str | None = None):
        """The newest webhook event of a CRM id."""
        found = [e for e in self.ledger().events(source=source, limit=1000) if e.crm_id == crm_id]
        assert found, f"no webhook event for {crm_id}"
        return found[0]

    def synced_identities(self, company: int, kind: str, origin: str = "tadbir") -> list[tuple[str, Any]]:
        """(customer code, forward ledger record) of identities the forward flow synced, by code."""
        records = self.ledger().records(company, "identities")
        return sorted((key, s) for key, s in records.items()
                      if s.status == "synced" and s.origin == origin and s.crm_kind == kind and s.crm_id)

    def forward(self, entities: tuple[str, ...] = ("identities", "quotes"), run_id: str = "fwd") -> dict[str, int]:
        """The forward flow (Tadbir → CRM) as its DAG tasks run it; returns the summed counts."""
        from hamgam import tasks

        totals: dict[str, int] = {}
        for entity in entities:
            for company in COMPANIES:
                detected = tasks.detect(entity, company, run_id=run_id)
                loaded = tasks.load(entity, detected, dag_id="fwd", run_id=run_id)
                for key, value in loaded.items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        totals[key] = totals.get(key, 0) + value
        return totals


@contextmanager
def open_clone(snapshot: Path, root: Path, **sandbox_settings: Any) -> Iterator[ReverseWorld]:
    """A private copy of the forward-synced world, its own sandbox, and the environment pointing at them."""
    data = root / "data"
    for name in SQLITE_FILES:
        copy_sqlite(snapshot / name, data / name)
    config_path = root / "hamgam.yaml"
    config_path.write_text(yaml.safe_dump(base_config(), allow_unicode=True), encoding="utf-8")
    with run_sandbox(data / "sandbox.sqlite", **sandbox_settings) as sandbox, \
            environment(env_for(data, sandbox.base_url, config_path)):
        yield ReverseWorld(root, data, sandbox, config_path)


# -- the hamgam web app, served by uvicorn ------------------------------------------------------------
@dataclass
class WebApp:
    url: str
    notified: list[tuple[str, dict[str, Any]]]

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.notified) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@contextmanager
def serve_webapp(ledger_url: str, secret: str = SECRET) -> Iterator[WebApp]:
    import uvicorn

    from hamgam.webapp import create_app

    notified: list[tuple[str, dict[str, Any]]] = []
    app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=lambda: secret,
                     notify=lambda uri, extra: notified.append((uri, extra)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name="hamgam-webapp", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hamgam web app did not start")
        time.sleep(0.01)
    try:
        yield WebApp(f"http://127.0.0.1:{port}", notified)
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.ledgers.dispose()
        logging.getLogger(__name__).debug("web app on port %d stopped", port)
