"""Event-driven freshness under a real Airflow: what `make bench-freshness` and tests/e2e/test_event_driven.py run.

``EventWorld`` is the demo Tadbir data (on SQLite, or hosted on the local PostgreSQL), the Payamgostar
sandbox and a real Airflow (scheduler, DAG processor, triggerer, API server; hamgam_dev.airflow_server) with
the seven forward DAGs unpaused and their change probes watching. ``Finance`` is a Tadbir user: it saves
inserts, edits, line edits and deletes of customers, products, invoices, quotes, receipts and payments,
each a ``Change`` that knows how it looks once it has reached the CRM. ``measure`` makes changes at
random moments and times each one from its commit in Tadbir to the record visible in the sandbox.

Every wait is for a condition with a generous deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
import yaml

from hamgam.entities import SPECS
from hamgam.tadbir import schema
from hamgam_dev.devenv import ROOT, airflow_env

ENTITIES = tuple(SPECS)  # dependency order
FORWARD = {entity: f"tadbir_to_payamgostar__{entity}" for entity in ENTITIES}
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
COMPANIES = (100, 200)
YEAR_1404 = 1404
SALES_INVOICE, QUOTE = 1, 4
RECEIPT, PAYMENT = 0, 1


class FreshnessError(RuntimeError):
    """The harness could not do its job (Airflow did not settle, a change never arrived)."""


def _when(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- the world --------------------------------------------------------------------------------------


def postgres_tadbir(prefix: str, companies: tuple[int, ...] = COMPANIES) -> dict[int, str]:
    """The demo Tadbir databases (the same rows as the SQLite demo) hosted on the local PostgreSQL, one
    database per company, created afresh; returns their SQLAlchemy URLs."""
    from tadbir_demo.build import fill_company

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    urls = {}
    try:
        with admin.connect() as conn:
            for code in companies:
                name = f"{prefix}_tadbir_{code}"
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                urls[code] = PG_URL.format(name=name)
    finally:
        admin.dispose()
    for code, url in urls.items():
        engine = sa.create_engine(url)
        try:
            fill_company(engine, code)
            with engine.begin() as conn:  # the statistics autovacuum would gather after a bulk load
                conn.execute(sa.text("ANALYZE"))
        finally:
            engine.dispose()
    return urls


def drop_postgres_tadbir(urls: dict[int, str]) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for url in urls.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class EventWorld:
    """A started world (see the module). ``tadbir[company]``: an engine on that company's Tadbir."""

    data: Path
    server: Any  # hamgam_dev.airflow_server.AirflowServer
    sandbox: Any  # pg_sandbox.testing.RunningSandbox
    tadbir: dict[int, sa.Engine]
    backend: str
    started_in: float = 0.0

    def runs(self, entity: str) -> list[dict[str, Any]]:
        result = self.server.api("GET", f"/dags/{FORWARD[entity]}/dagRuns", params={"limit": 1000})
        return result["dag_runs"]

    def queued_events(self, entity: str) -> int:
        try:
            return self.server.api("GET", f"/dags/{FORWARD[entity]}/assets/queuedEvents")["total_entries"]
        except Exception as exc:  # 404: no queued event
            if getattr(exc, "status", None) == 404:
                return 0
            raise

    def busy(self) -> list[str]:
        """The forward DAGs with a run not finished or an asset event queued for a next run."""
        out = []
        for entity in ENTITIES:
            if any(r["state"] not in ("success", "failed") for r in self.runs(entity)) or self.queued_events(entity):
                out.append(entity)
        return out

    def settle(self, timeout: float = 600.0, quiet_checks: int = 3) -> None:
        """Wait until no forward DAG has a run going or queued, ``quiet_checks`` times in a row (1 s apart)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        busy: list[str] = []
        while quiet < quiet_checks:
            if time.monotonic() > deadline:
                raise FreshnessError(f"Airflow did not settle within {timeout:.0f} s (busy: {busy})\n"
                                     f"{self.server.log_tail()}")
            self.server._check_alive()
            busy = self.busy()
            quiet = 0 if busy else quiet + 1
            time.sleep(1)

    def wait_first_runs(self, timeout: float = 300.0) -> None:
        """In a fresh Airflow, the first probe of each watcher fires (it has never seen a token): wait until
        every forward DAG has its first run, the initial sync."""
        deadline = time.monotonic() + timeout
        while missing := [e for e in ENTITIES if not self.runs(e)]:
            if time.monotonic() > deadline:
                raise FreshnessError(f"no run of {missing} {timeout:.0f} s after the watchers were registered\n"
                                     f"{self.server.log_tail()}")
            self.server._check_alive()
            time.sleep(0.5)

    def failed_runs(self, since: float = 0.0) -> list[tuple[str, str]]:
        return [(FORWARD[e], r["dag_run_id"]) for e in ENTITIES for r in self.runs(e)
                if r["state"] == "failed" and (_when(r["queued_at"]) or 0) >= since]

    def run_was_busy(self, entity: str, at: float) -> bool:
        """Whether a run of the entity's DAG was going at wall time ``at``."""
        for run in self.runs(entity):
            start, end = _when(run["start_date"]), _when(run["end_date"])
            if start is not None and start <= at and (end is None or at < end):
                return True
        return False

    def triggerer_pids(self) -> list[int]:
        """The triggerer's pid while it runs (as the server's launcher started it)."""
        import psutil

        pid = self.server.launched().get("triggerer")
        alive = pid is not None and pid in self.server.processes() and psutil.pid_exists(pid)
        return [pid] if alive else []


FAST_ENV = {"AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False"}


def world_settings(tmp: Path, **sync: Any) -> Path:
    """The repo's settings, with ``sync`` overrides, written to ``tmp/hamgam.yaml``."""
    config = yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))
    config["sync"] = {**config.get("sync", {}), **sync}
    config["alerts"] = {"email_to": [], "from_email": "hamgam@example.com", "smtp_conn_id": "smtp_default"}
    path = tmp / "hamgam.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def event_world(tmp: Path, *, backend: str = "sqlite", latency_ms: int = 20, settings: dict | None = None,
                extra_env: dict[str, str] | None = None, start_timeout: float = 600.0) -> Iterator[EventWorld]:
    """Build and start a world (see ``EventWorld``); everything started is stopped on exit."""
    from hamgam.executor import FAST_SETTINGS
    from hamgam_dev.airflow_server import AirflowServer, free_port
    from pg_sandbox.testing import run_sandbox
    from tadbir_demo import build_demo

    began = time.monotonic()
    data = tmp / "data"
    build_demo(data / "demo")
    config_path = world_settings(tmp, **(settings or {}))
    sandbox_port = free_port()
    env = {**airflow_env(data, sandbox_url=f"http://127.0.0.1:{sandbox_port}", airflow_home=tmp / "airflow",
                         crm_max_attempts=3),
           **FAST_SETTINGS, **FAST_ENV,
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
           "HAMGAM_CONFIG": str(config_path), **(extra_env or {})}
    urls = {code: f"sqlite:///{data / 'demo' / f'tadbir_{code}.sqlite'}" for code in COMPANIES}
    with ExitStack() as stack:
        if backend == "postgres":
            urls = postgres_tadbir(f"hamgam_fresh_{tmp.name[-12:].lower().replace('-', '_')}")
            stack.callback(drop_postgres_tadbir, urls)
            for index, code in enumerate(COMPANIES):
                name = "AIRFLOW_CONN_TADBIR_DEFAULT" if index == 0 else f"AIRFLOW_CONN_TADBIR_{code}"
                env[name] = json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432,
                                        "login": "postgres", "schema": sa.make_url(urls[code]).database})
        elif backend != "sqlite":
            raise ValueError(f"backend {backend!r}: sqlite or postgres")
        sandbox = stack.enter_context(run_sandbox(data / "sandbox.sqlite", port=sandbox_port, latency_ms=latency_ms))
        server = stack.enter_context(AirflowServer(env, startup_timeout=start_timeout))
        engines = {code: sa.create_engine(url) for code, url in urls.items()}
        for engine in engines.values():
            stack.callback(engine.dispose)
        world = EventWorld(data, server, sandbox, engines, backend)
        start_watching(server)
        world.wait_first_runs()
        world.settle()
        world.started_in = time.monotonic() - began
        yield world


def start_watching(server, timeout: float = 300.0) -> None:
    """Unpause the forward DAGs, have the DAG file parsed again (watchers are registered only for unpaused
    DAGs, when the file is parsed) and wait until the triggerer runs a watcher per company and entity."""
    from hamgam.dagbuilder import CRM_POOL

    server.api("POST", "/pools", json={"name": CRM_POOL, "slots": 8, "description": "Payamgostar CRM"})
    for dag_id in FORWARD.values():
        server.unpause(dag_id)
    token = server.api("GET", f"/dags/{FORWARD['identities']}")["file_token"]
    server.api("PUT", f"/parseDagFile/{token}")
    wanted = len(ENTITIES) * len(COMPANIES)
    deadline = time.monotonic() + timeout
    while True:
        assets = server.api("GET", "/assets", params={"limit": 100})["assets"]
        watchers = sum(len(a["watchers"]) for a in assets if a["uri"].startswith("hamgam://tadbir/"))
        if watchers >= wanted:
            return
        if time.monotonic() > deadline:
            raise FreshnessError(f"{watchers} of {wanted} watchers registered after {timeout:.0f} s\n"
                                 f"{server.log_tail()}")
        server._check_alive()
        time.sleep(0.5)


# -- changes in Tadbir ------------------------------------------------------------------------------


@dataclass
class Change:
    """One save in Tadbir and how it looks in the CRM once it has arrived."""

    label: str
    kind: str  # insert | edit | line edit | delete
    entity: str
    company: int
    crm_kinds: tuple[str, ...]
    apply: Callable[[], None]
    arrived: Callable[[list[dict[str, Any]]], bool]
    committed: float | None = None  # time.monotonic() after the commit
    committed_wall: float | None = None
    visible: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.visible is None or self.committed is None else self.visible - self.committed


def _by_number(records: list[dict[str, Any]], number: str) -> dict[str, Any] | None:
    for record in records:
        if record.get("number") == number or record.get("customerNumber") == number or record.get("code") == number:
            return record
    return None


def _has(number: str, marker: str | None = None) -> Callable[[list[dict[str, Any]]], bool]:
    def check(records: list[dict[str, Any]]) -> bool:
        record = _by_number(records, number)
        return record is not None and (marker is None or marker in json.dumps(record, ensure_ascii=False))
    return check


def _gone(number: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda records: _by_number(records, number) is None


@dataclass
class Finance:
    """A finance user saving in Tadbir: each method returns a ``Change`` (not yet applied)."""

    world: EventWorld
    rng: random.Random = field(default_factory=lambda: random.Random(1405))
    used: set[tuple[str, int, int]] = field(default_factory=set)  # (table, FPId, Id) already picked
    serial: int = 0

    def _engine(self, company: int) -> sa.Engine:
        return self.world.tadbir[company]

    def _period(self, company: int, year: int = YEAR_1404) -> int:
        """The FPId of a Jalali year (its first day falls in Farvardin of that year: Gregorian March)."""
        import jdatetime

        first = jdatetime.date(year, 1, 1).togregorian()
        fp = schema.fiscal_period
        with self._engine(company).connect() as conn:
            rows = conn.execute(sa.select(fp.c.Id, fp.c.StartDate).where(fp.c.Id > 0)).all()
        for row in rows:
            start = row.StartDate.date() if hasattr(row.StartDate, "date") else row.StartDate
            if abs((start - first).days) < 20:
                return int(row.Id)
        raise FreshnessError(f"company {company}: no fiscal period for {year}")

    def _marker(self) -> str:
        self.serial += 1
        return f"ویرایش {self.serial}-{self.rng.randrange(10**6)}"

    def _pick(self, company: int, table: sa.Table, where, *, synced: set[str] | None = None,
              number: Callable[[Any], str] | None = None) -> Any:
        """A random row of ``table`` matching ``where`` not picked before (and, with ``synced``, whose CRM
        number ``number(row)`` the CRM holds)."""
        with self._engine(company).connect() as conn:
            rows = conn.execute(sa.select(table).where(where).order_by(table.c.Id)).all()
        rows = [r for r in rows if (table.name, int(r.FPId), int(r.Id)) not in self.used
                and (synced is None or number(r) in synced)]
        if not rows:
            raise FreshnessError(f"company {company}: no row of {table.name} left to change")
        row = self.rng.choice(rows)
        self.used.add((table.name, int(row.FPId), int(row.Id)))
        return row

    def _crm_numbers(self, *kinds: str) -> set[str]:
        numbers = set()
        for record in self.world.sandbox.records(*kinds):
            numbers.add(record.get("number") or record.get("customerNumber") or record.get("code"))
        return numbers

    # customers ----------------------------------------------------------------------------------

    def _current_customer_period(self, company: int) -> int:
        c = schema.customer
        with self._engine(company).connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(c.c.FPId))).scalar_one())

    def new_customer(self, company: int, *, code: str | None = None) -> tuple[Change, dict[str, Any]]:
        """A customer copied from a synced one, with a new code, name and Id; also returns its row."""
        from hamgam.transform.codes import make_national_code

        c = schema.customer
        fp = self._current_customer_period(company)
        template = self._pick(company, c, (c.c.FPId == fp) & (c.c.SubscriptionNo != ""),
                              synced=self._crm_numbers("person", "organization"),
                              number=lambda r: f"{company}-{r.SubscriptionNo}")
        self.used.discard((c.name, fp, int(template.Id)))  # a template stays available for edits
        with self._engine(company).connect() as conn:
            new_id = int(conn.execute(sa.select(sa.func.max(c.c.Id)).where(c.c.FPId == fp)).scalar_one()) + 1
        code = code or str(70000 + new_id)
        row = {**template._asdict(), "Id": new_id, "SubscriptionNo": code, "Name": f"مشتری تازه {code}",
               "RegisterCode": make_national_code(f"{self.rng.randrange(10**8, 10**9)}")}
        self.used.add((c.name, fp, new_id))
        number = f"{company}-{code}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(c.insert(), [row])
        return Change(f"customer {number} inserted", "insert", "identities", company, ("person", "organization"),
                      apply, _has(number)), row

    def edit_customer(self, company: int) -> Change:
        c = schema.customer
        fp = self._current_customer_period(company)
        row = self._pick(company, c, (c.c.FPId == fp) & (c.c.SubscriptionNo != ""),
                         synced=self._crm_numbers("person", "organization"),
                         number=lambda r: f"{company}-{r.SubscriptionNo}")
        marker = self._marker()
        number = f"{company}-{row.SubscriptionNo}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(c.update().where(c.c.Id == row.Id, c.c.FPId == fp).values(Name=f"{row.Name} {marker}"))
        return Change(f"customer {number} renamed", "edit", "identities", company, ("person", "organization"),
                      apply, _has(number, marker))

    def delete_customer(self, company: int) -> Change:
        c, f, p = schema.customer, schema.sp_factor, schema.pay_receive
        fp = self._current_customer_period(company)
        unused = ((c.c.FPId == fp) & (c.c.SubscriptionNo != "") & c.c.Id.not_in(sa.select(f.c.CustomerId))
                  & c.c.Id.not_in(sa.select(p.c.CustomerId)))
        row = self._pick(company, c, unused, synced=self._crm_numbers("person", "organization"),
                         number=lambda r: f"{company}-{r.SubscriptionNo}")
        number = f"{company}-{row.SubscriptionNo}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(c.delete().where(c.c.Id == row.Id, c.c.FPId == fp))
        return Change(f"customer {number} deleted", "delete", "identities", company, ("person", "organization"),
                      apply, _gone(number))

    # products -----------------------------------------------------------------------------------

    def edit_product(self, company: int) -> Change:
        m = schema.merchandise
        with self._engine(company).connect() as conn:
            fp = int(conn.execute(sa.select(sa.func.max(m.c.FPId))).scalar_one())
        row = self._pick(company, m, (m.c.FPId == fp) & (m.c.IsGroup == 0), synced=self._crm_numbers("product"),
                         number=lambda r: f"{company}-{r.Code}")
        marker = self._marker()
        number = f"{company}-{row.Code}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(m.update().where(m.c.Id == row.Id, m.c.FPId == fp).values(Name=f"{row.Name} {marker}"))
        return Change(f"product {number} renamed", "edit", "products", company, ("product",), apply,
                      _has(number, marker))

    # documents ----------------------------------------------------------------------------------

    def _document(self, company: int, factor_type: int, kind: str, *, unreturned: bool = False) -> Any:
        f = schema.sp_factor
        fp = self._period(company)
        where = (f.c.FPId == fp) & (f.c.FactorType == factor_type)
        if unreturned:
            where &= f.c.Id.not_in(sa.select(f.c.SPReference).where(f.c.FactorType == 3, f.c.FPId == fp))
        return self._pick(company, f, where, synced=self._crm_numbers(kind),
                          number=lambda r: f"{company}-{YEAR_1404}/{r.FactorNo}")

    def new_invoice(self, company: int, *, customer_id: int | None = None) -> Change:
        """A sales invoice copied (header, lines, taxes) from a synced one: a new Id and number."""
        f, a, t = schema.sp_factor, schema.sp_article, schema.sp_tax
        template = self._document(company, SALES_INVOICE, "sales_invoice")
        self.used.discard((f.name, int(template.FPId), int(template.Id)))
        fp = int(template.FPId)
        with self._engine(company).connect() as conn:
            lines = conn.execute(sa.select(a).where(a.c.SPId == template.Id, a.c.FPId == fp)).all()
            taxes = conn.execute(sa.select(t).where(t.c.SPId == template.Id, t.c.FPId == fp)).all()
            new_id = int(conn.execute(sa.select(sa.func.max(f.c.Id)).where(f.c.FPId == fp)).scalar_one()) + 1
            number = int(conn.execute(sa.select(sa.func.max(f.c.FactorNo)).where(
                f.c.FPId == fp, f.c.FactorType == SALES_INVOICE)).scalar_one()) + 1
            first_line = int(conn.execute(sa.select(sa.func.max(a.c.Id)).where(a.c.FPId == fp)).scalar_one()) + 1
            first_tax = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c.Id), 0)).where(
                t.c.FPId == fp)).scalar_one()) + 1
        header = {**template._asdict(), "Id": new_id, "FactorNo": number}
        if customer_id is not None:
            header["CustomerId"] = customer_id
        new_lines = [{**line._asdict(), "Id": first_line + i, "SPId": new_id} for i, line in enumerate(lines)]
        new_taxes = [{**tax._asdict(), "Id": first_tax + i, "SPId": new_id} for i, tax in enumerate(taxes)]
        self.used.add((f.name, fp, new_id))
        crm_number = f"{company}-{YEAR_1404}/{number}"

        def apply(conn: sa.Connection | None = None) -> None:
            with ExitStack() as stack:
                conn = conn or stack.enter_context(self._engine(company).begin())
                conn.execute(f.insert(), [header])
                conn.execute(a.insert(), new_lines)
                if new_taxes:
                    conn.execute(t.insert(), new_taxes)
        return Change(f"sales invoice {crm_number} inserted", "insert", "sales_invoices", company,
                      ("sales_invoice",), apply, _has(crm_number))

    def edit_document(self, company: int, entity: str = "sales_invoices") -> Change:
        f = schema.sp_factor
        factor_type, kind = (SALES_INVOICE, "sales_invoice") if entity == "sales_invoices" else (QUOTE, "quote")
        row = self._document(company, factor_type, kind)
        marker = self._marker()
        number = f"{company}-{YEAR_1404}/{row.FactorNo}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(f.update().where(f.c.Id == row.Id, f.c.FPId == row.FPId).values(
                    SPDesc=f"{row.SPDesc or ''} {marker}".strip()))
        return Change(f"{kind.replace('_', ' ')} {number} header edited", "edit", entity, company, (kind,), apply,
                      _has(number, marker))

    def edit_line(self, company: int, entity: str = "sales_invoices") -> Change:
        """A line's description edited; the header stays as it was."""
        a = schema.sp_article
        factor_type, kind = (SALES_INVOICE, "sales_invoice") if entity == "sales_invoices" else (QUOTE, "quote")
        row = self._document(company, factor_type, kind)
        marker = self._marker()
        number = f"{company}-{YEAR_1404}/{row.FactorNo}"
        with self._engine(company).connect() as conn:
            line = conn.execute(sa.select(sa.func.min(a.c.Id)).where(a.c.SPId == row.Id, a.c.FPId == row.FPId)
                                ).scalar_one()

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(a.update().where(a.c.Id == line, a.c.FPId == row.FPId).values(SPADesc=marker))
        return Change(f"{kind.replace('_', ' ')} {number} line edited", "line edit", entity, company, (kind,), apply,
                      _has(number, marker))

    def delete_invoice(self, company: int) -> Change:
        f, a, t = schema.sp_factor, schema.sp_article, schema.sp_tax
        row = self._document(company, SALES_INVOICE, "sales_invoice", unreturned=True)
        number = f"{company}-{YEAR_1404}/{row.FactorNo}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(t.delete().where(t.c.SPId == row.Id, t.c.FPId == row.FPId))
                conn.execute(a.delete().where(a.c.SPId == row.Id, a.c.FPId == row.FPId))
                conn.execute(f.delete().where(f.c.Id == row.Id, f.c.FPId == row.FPId))
        return Change(f"sales invoice {number} deleted", "delete", "sales_invoices", company, ("sales_invoice",),
                      apply, _gone(number))

    # receipts and payments ----------------------------------------------------------------------

    def _treasury(self, company: int, kind_type: int, kind: str) -> Any:
        p = schema.pay_receive
        fp = self._period(company)
        return self._pick(company, p, (p.c.FPId == fp) & (p.c.Type == kind_type), synced=self._crm_numbers(kind),
                          number=lambda r: f"{company}-{YEAR_1404}/6-{r.No}")

    def new_receipt(self, company: int) -> Change:
        p = schema.pay_receive
        template = self._treasury(company, RECEIPT, "receipt")
        self.used.discard((p.name, int(template.FPId), int(template.Id)))
        fp = int(template.FPId)
        with self._engine(company).connect() as conn:
            new_id = int(conn.execute(sa.select(sa.func.max(p.c.Id)).where(p.c.FPId == fp)).scalar_one()) + 1
            number = int(conn.execute(sa.select(sa.func.max(p.c.No)).where(p.c.FPId == fp, p.c.Type == RECEIPT)
                                      ).scalar_one()) + 1
        row = {**template._asdict(), "Id": new_id, "No": number}
        self.used.add((p.name, fp, new_id))
        crm_number = f"{company}-{YEAR_1404}/6-{number}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(p.insert(), [row])
        return Change(f"receipt {crm_number} inserted", "insert", "receipts", company, ("receipt",), apply,
                      _has(crm_number))

    def edit_payment(self, company: int) -> Change:
        p = schema.pay_receive
        row = self._treasury(company, PAYMENT, "payment")
        marker = self._marker()
        number = f"{company}-{YEAR_1404}/6-{row.No}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(p.update().where(p.c.Id == row.Id, p.c.FPId == row.FPId).values(
                    Description=f"{row.Description or ''} {marker}".strip()))
        return Change(f"payment {number} edited", "edit", "payments", company, ("payment",), apply,
                      _has(number, marker))

    def delete_payment(self, company: int) -> Change:
        p = schema.pay_receive
        row = self._treasury(company, PAYMENT, "payment")
        number = f"{company}-{YEAR_1404}/6-{row.No}"

        def apply() -> None:
            with self._engine(company).begin() as conn:
                conn.execute(p.delete().where(p.c.Id == row.Id, p.c.FPId == row.FPId))
        return Change(f"payment {number} deleted", "delete", "payments", company, ("payment",), apply,
                      _gone(number))

    def mix(self, count: int) -> list[Change]:
        """``count`` changes of every kind, both companies, in a random order."""
        makers: list[Callable[[int], Change]] = [
            lambda c: self.new_customer(c)[0], self.edit_customer, self.delete_customer, self.edit_product,
            self.new_invoice, self.edit_document, self.edit_line, self.delete_invoice,
            lambda c: self.edit_document(c, "quotes"), lambda c: self.edit_line(c, "quotes"),
            self.new_receipt, self.edit_payment, self.delete_payment]
        kinds = [(maker, company) for maker in makers for company in COMPANIES]
        plan: list[tuple[Callable[[int], Change], int]] = []
        while len(plan) < count:  # every kind once (in a random order) before any kind twice
            self.rng.shuffle(kinds)
            plan += kinds
        plan = plan[:count]
        return [maker(company) for maker, company in plan]


# -- measuring --------------------------------------------------------------------------------------


class Watch:
    """Polls the sandbox for the pending changes: its write counter every ``poll`` s (cheap), and the records
    of the pending changes' kinds only when it moved; a change is visible at the first poll it holds."""

    def __init__(self, sandbox, poll: float = 0.1) -> None:
        self.sandbox = sandbox
        self.poll = poll
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="freshness-watch", daemon=True)

    def add(self, change: Change) -> None:
        with self.lock:
            self.pending.append(change)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)

    def _check(self, now: float) -> None:
        with self.lock:
            pending = [c for c in self.pending if c.visible is None]
        if not pending:
            return
        kinds = sorted({k for c in pending for k in c.crm_kinds})
        records = self.sandbox.records(*kinds)
        for change in pending:
            if change.arrived([r for r in records if r.get("kind") in change.crm_kinds]):
                change.visible = now

    def _run(self) -> None:
        last_writes = None
        last_full = 0.0
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                writes = self.sandbox.stats().get("writes", 0)
                if writes != last_writes or now - last_full > 2.0:
                    last_writes, last_full = writes, now
                    self._check(now)
                self.stop.wait(self.poll)
        except BaseException as exc:  # reported by the caller
            self.error = exc


@dataclass
class Measured:
    backend: str
    changes: list[Change]
    busy_at_commit: list[bool]
    runs: dict[str, int]  # run type -> count, during the measurement
    failed_runs: list[tuple[str, str]]
    seconds: float
    tasks: dict[str, float] = field(default_factory=dict)  # task → median seconds (asset-triggered runs)

    @property
    def times(self) -> list[float]:
        return [c.seconds for c in self.changes if c.seconds is not None]

    def line(self) -> str:
        times = self.times
        return (f"freshness p50 {percentile(times, 50):.1f} s p95 {percentile(times, 95):.1f} s "
                f"over {len(times)} changes")


def apply_at_random_moments(world: EventWorld, changes: list[Change], rng: random.Random, *,
                            gap: tuple[float, float] = (1.0, 12.0), timeout: float = 180.0) -> Measured:
    """Apply ``changes`` one by one, each ``gap`` (uniform, seconds) after the one before, whatever is running,
    and wait until each is visible in the CRM (or ``timeout`` after its commit)."""
    began_wall, began = time.time(), time.monotonic()
    with Watch(world.sandbox) as watch:
        for index, change in enumerate(changes):
            if index:
                pause = rng.uniform(*gap)
                target = time.monotonic() + pause
                while time.monotonic() < target:
                    time.sleep(min(0.05, target - time.monotonic()))
            change.apply()
            change.committed, change.committed_wall = time.monotonic(), time.time()
            watch.add(change)
        deadline = time.monotonic() + timeout
        while any(c.visible is None for c in changes) and time.monotonic() < deadline and watch.error is None:
            world.server._check_alive()
            time.sleep(0.2)
    if watch.error is not None:
        raise FreshnessError(f"watching the sandbox failed: {watch.error!r}")
    seconds = time.monotonic() - began
    world.settle()
    runs: dict[str, int] = {}
    for entity in ENTITIES:
        for run in world.runs(entity):
            if (_when(run["queued_at"]) or 0) >= began_wall:
                runs[run["run_type"]] = runs.get(run["run_type"], 0) + 1
    busy = [world.run_was_busy(c.entity, c.committed_wall) for c in changes]
    return Measured(world.backend, changes, busy, runs, world.failed_runs(began_wall), seconds,
                    task_seconds(world, began_wall))


def task_seconds(world: EventWorld, since: float) -> dict[str, float]:
    """Median duration of the detect, load and report tasks of the asset-triggered runs queued since ``since``."""
    spent: dict[str, list[float]] = {}
    for entity in ENTITIES:
        for run in world.runs(entity):
            if run["run_type"] != "asset_triggered" or (_when(run["queued_at"]) or 0) < since:
                continue
            path = f"/dags/{FORWARD[entity]}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances"
            for ti in world.server.api("GET", path)["task_instances"]:
                start, end = _when(ti["start_date"]), _when(ti["end_date"])
                if start and end:
                    spent.setdefault(ti["task_id"].rsplit(".", 1)[-1], []).append(end - start)
    return {task: statistics.median(values) for task, values in sorted(spent.items())}


def burst(world: EventWorld, saves: int = 1000, company: int = 100, timeout: float = 300.0) -> dict[str, Any]:
    """``saves`` commits in a row to one customer's name; returns how many identities runs they started and when
    the last name was visible in the CRM."""
    finance = Finance(world)
    change = finance.edit_customer(company)
    number = change.label.split()[1]
    c = schema.customer
    fp = finance._current_customer_period(company)
    with world.tadbir[company].connect() as conn:
        row = conn.execute(sa.select(c.c.Id, c.c.Name).where(c.c.FPId == fp, c.c.SubscriptionNo ==
                                                              number.split("-", 1)[1])).one()
    world.settle()
    before = {r["dag_run_id"] for r in world.runs("identities")}
    began = time.monotonic()
    for i in range(saves):
        with world.tadbir[company].begin() as conn:
            conn.execute(c.update().where(c.c.Id == row.Id, c.c.FPId == fp).values(Name=f"{row.Name} بار {i}"))
    committed = time.monotonic()
    final = _has(number, f"بار {saves - 1}")
    deadline = committed + timeout
    while not final(world.sandbox.records("person", "organization")):
        if time.monotonic() > deadline:
            raise FreshnessError(f"the last of {saves} saves of customer {number} did not arrive in {timeout:.0f} s")
        time.sleep(0.1)
    visible = time.monotonic()
    world.settle()
    runs = [r for r in world.runs("identities") if r["dag_run_id"] not in before]
    return {"saves": saves, "save_seconds": committed - began, "visible_after": visible - committed,
            "runs": len(runs), "run_types": sorted({r["run_type"] for r in runs}),
            "failed": [r["dag_run_id"] for r in runs if r["state"] == "failed"]}


def probe_cost(world: EventWorld, window: float = 30.0, *, baseline: bool = True) -> dict[str, Any]:
    """The probes' cost over a quiet ``window`` (no DAG run): the triggerer's CPU (its processes' CPU time over
    wall time) and, on PostgreSQL, the transactions per second the Tadbir databases saw. With ``baseline`` the
    forward DAGs are then paused (their watchers leave the triggerer) and the same is measured without any
    probe: the difference is the probes' own cost. Leaves the forward DAGs paused."""
    world.settle()
    watched = _measure_window(world, window)
    out = {"window_s": watched["seconds"], "triggerer_cpu_pct": watched["cpu_pct"],
           "tadbir_tx_per_s": watched["tx_per_s"], "runs_in_window": watched["runs"],
           "triggerer_rss_mb": watched["rss_mb"]}
    if baseline:
        for dag_id in FORWARD.values():
            world.server.api("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
        token = world.server.api("GET", f"/dags/{FORWARD['identities']}")["file_token"]
        world.server.api("PUT", f"/parseDagFile/{token}")
        deadline = time.monotonic() + 300
        while _watchers(world.server):
            if time.monotonic() > deadline:
                raise FreshnessError("the watchers did not leave the triggerer after the DAGs were paused")
            time.sleep(0.5)
        idle = _measure_window(world, window)
        out.update({"baseline_cpu_pct": idle["cpu_pct"], "baseline_tx_per_s": idle["tx_per_s"]})
    return out


def _watchers(server) -> int:
    assets = server.api("GET", "/assets", params={"limit": 100})["assets"]
    return sum(len(a["watchers"]) for a in assets if a["uri"].startswith("hamgam://tadbir/"))


def _measure_window(world: EventWorld, window: float) -> dict[str, Any]:
    import psutil

    procs: dict[int, Any] = {}
    for pid in world.triggerer_pids():
        try:
            proc = psutil.Process(pid)
            procs.update((p.pid, p) for p in (proc, *proc.children(recursive=True)))
        except psutil.Error:
            continue

    def cpu() -> float:
        total = 0.0
        for proc in procs.values():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def commits() -> int | None:
        if world.backend != "postgres":
            return None
        names = [e.url.database for e in world.tadbir.values()]
        admin = sa.create_engine(PG_ADMIN_URL)
        try:
            with admin.connect() as conn:
                return int(conn.execute(sa.text("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database "
                                                "WHERE datname = ANY(:names)"), {"names": names}).scalar_one())
        finally:
            admin.dispose()

    started_runs = sum(len(world.runs(e)) for e in ENTITIES)
    cpu0, tx0, t0 = cpu(), commits(), time.monotonic()
    while time.monotonic() - t0 < window:
        time.sleep(0.5)
    cpu1, tx1, t1 = cpu(), commits(), time.monotonic()
    elapsed = t1 - t0
    rss = 0.0
    for proc in procs.values():
        try:
            rss += proc.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return {"seconds": elapsed, "cpu_pct": 100 * (cpu1 - cpu0) / elapsed,
            "tx_per_s": None if tx0 is None else (tx1 - tx0) / elapsed,
            "runs": sum(len(world.runs(e)) for e in ENTITIES) - started_runs, "rss_mb": rss}


def probe_query_ms(world: EventWorld, rounds: int = 20) -> dict[str, float]:
    """Mean time of one probe query per entity (both companies), measured here with the triggers' engine."""
    from hamgam.config import parse_config
    from hamgam.entities import SPECS
    from hamgam.entities.base import SyncContext
    from hamgam.tadbir.changes import probe_token

    config = parse_config((world.data.parent / "hamgam.yaml").read_text(encoding="utf-8"))
    out = {}
    for entity in ENTITIES:
        spent = []
        for company, engine in world.tadbir.items():
            ctx = SyncContext(config, config.company(company))
            probe_token(engine, SPECS[entity], ctx)
            for _ in range(rounds):
                started = time.perf_counter()
                probe_token(engine, SPECS[entity], ctx)
                spent.append(time.perf_counter() - started)
        out[entity] = 1000 * statistics.mean(spent)
    return out


def run_timeline(world: EventWorld, entity: str, run_id: str) -> list[tuple[str, float]]:
    """(step, wall time) of one run: queued, started, each task's start and end, ended."""
    dag_id = FORWARD[entity]
    run = world.server.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
    steps = [("run queued", _when(run["queued_at"])), ("run started", _when(run["start_date"])),
             ("run ended", _when(run["end_date"]))]
    tis = world.server.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
    for ti in tis["task_instances"]:
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        steps += [(f"{name} started", _when(ti["start_date"])), (f"{name} ended", _when(ti["end_date"]))]
    return sorted(((k, v) for k, v in steps if v is not None), key=lambda s: s[1])


def explain(world: EventWorld, change: Change) -> str:
    """Where a change's time went: the probe's asset events and the entity's runs between its commit and its
    arrival, in seconds after the commit."""
    assert change.committed_wall is not None and change.seconds is not None
    t0 = change.committed_wall
    until = t0 + change.seconds
    out = [f"{change.label}: visible after {change.seconds:.1f} s"]
    events = world.server.api("GET", "/assets/events", params={"limit": 200, "order_by": "-timestamp"})
    for event in reversed(events["asset_events"]):
        at = _when(event["timestamp"])
        if event["uri"] == f"hamgam://tadbir/{change.entity}" and t0 - 10 <= at <= until:
            payload = (event.get("extra") or {}).get("payload") or {}
            seen = _when(payload.get("at"))
            out.append(f"    {at - t0:6.2f} asset event (company {payload.get('company')}, the probe saw it at "
                       f"{(seen or at) - t0:.2f})")
    for run in world.runs(change.entity):
        start, end = _when(run["start_date"]), _when(run["end_date"]) or until
        if start is None or end < t0 - 1 or start > until:
            continue
        out.append(f"    run {run['dag_run_id']} ({run['run_type']})")
        for step, at in run_timeline(world, change.entity, run["dag_run_id"]):
            out.append(f"    {at - t0:6.2f} {step}")
    return "\n".join(out)
