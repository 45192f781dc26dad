"""Benchmark: hamgam's load against a minimal raw client, same data, same sandbox (`make bench`).

    .venv/bin/python benchmarks/bench_load.py --entities identities sales_invoices --latencies 20 100 \\
        --workers 4 16 --repeat 3 --record

For each cell (entity, latency, workers), the demo Tadbir data (company 100) and a sandbox whose every call
takes `latency` ms. A run starts from a fresh copy of the sandbox database and of the ledger, with the same
N new records queued (hamgam's detect, untimed): new records after the first load, as many other records of
the entity loaded before (untimed); with `--first-load`, the first load into a CRM without any of them
(a new record then looks for the CRM's one first). Raw: one create call per record, with the payloads hamgam
builds (its prepare, validation and payloads, untimed), on `workers` threads sharing a requests.Session
and a bearer token; only the posting is timed. Hamgam: `pipeline.load` with a PayamgostarClient of `workers`
threads, all of it timed (the client logs in first, like the raw one). Sales invoices name customers and
products: hamgam syncs those into the sandbox and the ledger first (untimed, no latency), so both runs make
only invoice creates. Raw and hamgam alternate, `repeat` times each; the medians of records/s give the
ratio, printed one line per cell as `ratio <entity> <latency> ms <workers> workers <hamgam/raw>`.
`--record` appends a dated table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter
from results import add_table

from hamgam import pipeline
from hamgam.config import HamgamConfig, parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import KEY, SKIP, EntitySpec, LoadItem, SyncContext, records_of
from hamgam.ledger import Ledger
from hamgam.payamgostar.client import PayamgostarClient
from hamgam.tadbir import reader
from hamgam.validate import validate_frame
from pg_sandbox.testing import RunningSandbox, run_sandbox
from tadbir_demo import build_demo

COMPANY = 100
ENTITIES = ("identities", "sales_invoices")
# the demo's fiscal years: ten for sales invoices, so that their customers (and the set-up) stay few
FISCAL_YEARS = {"identities": (1403, 1404), "sales_invoices": tuple(range(1395, 1405))}
RECORDS_PER_SCALE = {"identities": 110, "sales_invoices": 270}  # new records detected per scale, at least
REFERENCED = {"sales_invoices": ("identities", "products")}  # synced before the timed part
SETUP_WORKERS = 16


@dataclass(frozen=True)
class Cell:
    entity: str
    latency_ms: int
    workers: int
    records: int


@dataclass(frozen=True)
class Run:
    records: int  # created in the CRM
    seconds: float
    calls: Counter[str]  # CRM calls by endpoint, the login left out
    sandbox_cpu: float  # share of one core the sandbox used while it ran

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass(frozen=True)
class Result:
    cell: Cell
    raw: list[Run]
    hamgam: list[Run]

    @property
    def raw_rate(self) -> float:
        return statistics.median(run.rate for run in self.raw)

    @property
    def hamgam_rate(self) -> float:
        return statistics.median(run.rate for run in self.hamgam)

    @property
    def ratio(self) -> float:
        return self.hamgam_rate / self.raw_rate

    def line(self) -> str:
        c = self.cell
        return f"ratio {c.entity} {c.latency_ms} ms {c.workers} workers {self.ratio:.2f}"


@dataclass(frozen=True)
class Base:
    """One entity's starting point: Tadbir, the sandbox database (with the references) and the ledger
    (the entity detected)."""

    entity: str
    tadbir: Path
    sandbox_db: Path
    ledger_db: Path


# -- set-up (untimed) ----------------------------------------------------------------------------

def hamgam_config(workers: int) -> HamgamConfig:
    return parse_config(f"companies: [{{code: {COMPANY}, default: true}}]\n"
                        f"sync: {{crm_max_workers: {workers}}}\n")


def context(workers: int) -> SyncContext:
    config = hamgam_config(workers)
    return SyncContext(config, config.company(COMPANY))


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included), or nothing when there is none yet."""
    if not source.exists():
        return
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def prepare_base(entity: str, work: Path, records: int, first_load: bool) -> Base:
    """Demo data big enough for `records`, the references synced, the entity detected into the ledger; unless
    `first_load`, as many records of the entity as will be measured loaded before (`adopt_others`)."""
    work.mkdir(parents=True)
    wanted = records if first_load else 2 * records
    build_demo(work, scale=-(-wanted // RECORDS_PER_SCALE[entity]), companies=(COMPANY,),
               fiscal_years=FISCAL_YEARS[entity])
    base = Base(entity, work / f"tadbir_{COMPANY}.sqlite", work / "sandbox.sqlite", work / "ledger.sqlite")
    tadbir = sa.create_engine(f"sqlite:///{base.tadbir}")
    ledger = Ledger.connect(f"sqlite:///{base.ledger_db}")
    ctx = context(SETUP_WORKERS)
    try:
        with run_sandbox(base.sandbox_db) as sandbox, client_for(sandbox, SETUP_WORKERS) as client:
            for name in (*REFERENCED.get(entity, ()), entity):
                found = pipeline.detect(SPECS[name], ctx, engine=tadbir, ledger=ledger,
                                        run_id=f"setup-{name}")
                if name != entity:
                    pipeline.load(SPECS[name], ctx, engine=tadbir, ledger=ledger, client=client,
                                  run_id=f"setup-{name}")
            if found["queued"] < wanted:
                raise SystemExit(f"{entity}: the demo data queued {found['queued']} records, {wanted} wanted")
            if not first_load:
                adopt_others(SPECS[entity], ctx, tadbir, ledger, client, records)
    finally:
        ledger.dispose()
        tadbir.dispose()
    return base


def adopt_others(spec: EntitySpec, ctx: SyncContext, tadbir: sa.Engine, ledger: Ledger,
                 client: PayamgostarClient, records: int) -> None:
    """New records after the first load: of the first 2 × `records` queued keys, every other one is taken
    off the queue and the others loaded (their neighbours in key order, fiscal years included, so that
    the load that emptied the queue had adopted what the CRM held); a scan then queues the taken ones,
    and every key past them, as new, the taken ones first."""
    keys = [change.tadbir_key for change in ledger.pending(COMPANY, spec.name, limit=10**9)]
    ledger.dequeue(COMPANY, spec.name, keys[0:2 * records:2] + keys[2 * records:])
    pipeline.load(spec, ctx, engine=tadbir, ledger=ledger, client=client, run_id="setup-existing")
    pipeline.detect(spec, ctx, engine=tadbir, ledger=ledger, run_id="setup-new", capture="scan")


def client_for(sandbox: RunningSandbox, workers: int) -> PayamgostarClient:
    return PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, max_workers=workers)


@contextmanager
def fresh_state(base: Base, run_dir: Path, records: int) -> Iterator[tuple[Path, Ledger]]:
    """Copies of the base sandbox database and ledger, the queue cut to its first `records` keys."""
    run_dir.mkdir(parents=True)
    sandbox_db, ledger_db = run_dir / "sandbox.sqlite", run_dir / "ledger.sqlite"
    copy_db(base.sandbox_db, sandbox_db)
    copy_db(base.ledger_db, ledger_db)
    ledger = Ledger.connect(f"sqlite:///{ledger_db}")
    try:
        queued = [p.tadbir_key for p in ledger.pending(COMPANY, base.entity, limit=10**9)]
        ledger.dequeue(COMPANY, base.entity, queued[records:])
        yield sandbox_db, ledger
    finally:
        ledger.dispose()
        shutil.rmtree(run_dir)


def raw_items(spec: EntitySpec, ctx: SyncContext, engine: sa.Engine, ledger: Ledger) -> list[LoadItem]:
    """The payloads hamgam would send for the queued records: its read, prepare, validation and
    payload builder, chunk by chunk as its load takes them; the records it sets aside (invalid, naming a
    record that is not in the CRM) left out."""
    company = ctx.company.code
    refs = {ref.entity: {k: s for k, s in ledger.records(company, ref.entity).items()
                         if s.status == "synced" and s.crm_id} for ref in spec.references}
    periods = {p.id: p for p in reader.fiscal_periods(engine)}
    pending = ledger.pending(company, spec.name, limit=10**9)
    size = ctx.config.sync.chunk_size
    items: list[LoadItem] = []
    for chunk in (pending[i:i + size] for i in range(0, len(pending), size)):
        by_period: dict[int, list] = {}
        for change in chunk:
            by_period.setdefault(int(change.locator["period"]), []).append(change)
        for period_id, changes in by_period.items():
            pctx = SyncContext(ctx.config, ctx.company, periods[period_id])
            ids = [int(i) for change in changes for i in change.locator["ids"]]
            rows = reader.read_rows(engine, spec.source, period_id, ids)
            frame = pipeline.prepare_rows(spec, pctx, engine, rows)
            frame = frame[frame[KEY].isin({change.tadbir_key for change in changes})]
            if SKIP in frame.columns:
                frame = frame[frame[SKIP].isna()]
            frame = frame.reset_index(drop=True)
            valid = frame.drop(index=validate_frame(frame, spec.checks, suite_name=spec.name).failed_index())
            for ref in spec.references:  # one naming a record not in the CRM is set aside, no call made
                in_crm = refs[ref.entity].keys()
                valid = valid[valid[ref.column].map(lambda keys, in_crm=in_crm: set(keys or []) <= in_crm)]
            items += [spec.item(row, pctx, refs) for row in records_of(valid)]
    return items


def create_call(entity: str, item: LoadItem) -> tuple[str, dict[str, Any]]:
    """The REST v2 create of one new record: (path under /api/v2/, body)."""
    if entity == "identities":
        return f"crmobject/{item.kind}/create", item.payloads[item.kind]
    return "crmobject/invoice/sales/create", item.payloads["rest"]


# -- the two contenders (timed) ------------------------------------------------------------------

def login(session: requests.Session, sandbox: RunningSandbox) -> str:
    """The bearer token, logged in as PayamgostarClient.login does."""
    body = {"username": sandbox.username, "password": sandbox.password, "deviceId": "hamgam-bench",
            "platformType": 4, "os": "Linux", "osVersion": "1.0", "token": ""}
    answer = session.post(f"{sandbox.base_url}/api/v2/auth/login", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()["accessToken"]


def raw_session(sandbox: RunningSandbox, workers: int) -> requests.Session:
    """One session for `workers` threads, carrying the bearer token."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=workers, max_retries=0))
    session.headers["Authorization"] = f"Bearer {login(session, sandbox)}"
    return session


def post_all(session: requests.Session, base_url: str, calls: list[tuple[str, dict[str, Any]]],
             workers: int) -> float:
    """POST every call on `workers` threads; the seconds the posting took."""
    def post(call: tuple[str, dict[str, Any]]) -> None:
        answer = session.post(f"{base_url}/api/v2/{call[0]}", json=call[1], timeout=60)
        if answer.status_code != 200 or "crmId" not in answer.json():
            raise RuntimeError(f"raw {call[0]}: {answer.status_code} {answer.text[:200]}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        started = time.perf_counter()
        list(pool.map(post, calls))
        return time.perf_counter() - started


def run_raw(base: Base, cell: Cell, calls: list[tuple[str, dict[str, Any]]], run_dir: Path) -> Run:
    with fresh_state(base, run_dir, cell.records) as (sandbox_db, _), \
            run_sandbox(sandbox_db, latency_ms=cell.latency_ms) as sandbox, \
            raw_session(sandbox, cell.workers) as session:
        sandbox.reset_stats()  # the counters came with the base database
        cpu = CpuMeter(sandbox)
        seconds = post_all(session, sandbox.base_url, calls, cell.workers)
        return Run(len(calls), seconds, crm_calls(sandbox), cpu.share(seconds))


def run_hamgam(base: Base, cell: Cell, run_dir: Path) -> Run:
    spec, ctx = SPECS[cell.entity], context(cell.workers)
    tadbir = sa.create_engine(f"sqlite:///{base.tadbir}")
    with fresh_state(base, run_dir, cell.records) as (sandbox_db, ledger), \
            run_sandbox(sandbox_db, latency_ms=cell.latency_ms) as sandbox, \
            client_for(sandbox, cell.workers) as client:
        client.login()  # as the raw client does before its clock starts
        sandbox.reset_stats()  # the counters came with the base database
        cpu = CpuMeter(sandbox)
        started = time.perf_counter()
        loaded = pipeline.load(spec, ctx, engine=tadbir, ledger=ledger, client=client, run_id="bench")
        seconds = time.perf_counter() - started
        tadbir.dispose()
        return Run(loaded["created"], seconds, crm_calls(sandbox), cpu.share(seconds))


def crm_calls(sandbox: RunningSandbox) -> Counter[str]:
    """The CRM calls the run made, by endpoint."""
    return Counter(sandbox.stats()["calls"])


class CpuMeter:
    """The sandbox process's CPU time from now on, as a share of one core over a wall time."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self._process = psutil.Process(sandbox.process.pid)
        self._start = self._used()

    def _used(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def share(self, wall_seconds: float) -> float:
        return (self._used() - self._start) / wall_seconds


# -- the matrix ----------------------------------------------------------------------------------

def records_for(latency_ms: int, workers: int, args: argparse.Namespace) -> int:
    """`--records`, else about `--seconds` of raw posting at the ideal rate (workers / latency), at least
    `--min-records`."""
    if args.records:
        return args.records
    return max(args.min_records, round(args.seconds * workers * 1000 / latency_ms))


def measure(base: Base, cell: Cell, work: Path, repeat: int) -> Result:
    """Raw and hamgam alternately, `repeat` times each, on the same records."""
    tadbir = sa.create_engine(f"sqlite:///{base.tadbir}")
    with fresh_state(base, work / "items", cell.records) as (_, ledger):
        items = raw_items(SPECS[cell.entity], context(cell.workers), tadbir, ledger)
    tadbir.dispose()
    calls = [create_call(cell.entity, item) for item in items]
    raw: list[Run] = []
    hamgam: list[Run] = []
    for n in range(repeat):
        raw.append(run_raw(base, cell, calls, work / f"raw-{n}"))
        hamgam.append(run_hamgam(base, cell, work / f"hamgam-{n}"))
        print(f"  {cell.entity} {cell.latency_ms} ms {cell.workers} workers, run {n + 1}: "
              f"raw {describe(raw[-1])}; hamgam {describe(hamgam[-1])}", flush=True)
    result = Result(cell, raw, hamgam)
    if {run.records for run in raw + hamgam} != {len(calls)}:
        print(f"  warning: raw sent {len(calls)} records, hamgam created {[run.records for run in hamgam]}")
    return result


def describe(run: Run) -> str:
    return (f"{run.rate:.0f}/s ({run.records} in {run.seconds:.2f} s, {per_record(run)} calls/record, "
            f"sandbox CPU {run.sandbox_cpu:.0%} of a core)")


def per_record(run: Run) -> str:
    """CRM calls per record by verb, e.g. `3.00 (find 2.00, create 1.00)`."""
    verbs: Counter[str] = Counter()
    for endpoint, count in run.calls.items():
        verbs[endpoint.rsplit("/", 1)[-1]] += count
    records = max(run.records, 1)
    parts = ", ".join(f"{verb} {count / records:.2f}" for verb, count in verbs.most_common())
    return f"{sum(verbs.values()) / records:.2f} ({parts})"


TABLE_HEADER = ("| entity | latency ms | workers | records | raw records/s | ideal (workers/latency) "
                "| hamgam records/s | hamgam/raw | hamgam CRM calls/record | sandbox CPU, raw |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n")


def table_row(result: Result) -> str:
    c = result.cell
    return (f"| {c.entity} | {c.latency_ms} | {c.workers} | {result.hamgam[-1].records} | "
            f"{result.raw_rate:.0f} | {c.workers * 1000 / c.latency_ms:.0f} | {result.hamgam_rate:.0f} | "
            f"{result.ratio:.2f} | {per_record(result.hamgam[-1])} | "
            f"{max(run.sandbox_cpu for run in result.raw):.0%} |\n")


SECTION = "## Load against a raw client (benchmarks/bench_load.py)"
SECTION_INTRO = ("One create call per new record on a thread pool (raw) against hamgam's `pipeline.load`, "
                 "the same records, a fresh sandbox and ledger per run, raw and hamgam alternating; "
                 "medians of records/s (`make bench`). New records after the first load: as many of the "
                 "entity's records loaded before (untimed); `--first-load`: into a CRM without any. The "
                 "sandbox: one process, latency an asyncio sleep; its CPU is a share of one core during the "
                 "raw runs (the busiest).\n")


def record(results: list[Result], heading: str) -> None:
    add_table(SECTION, SECTION_INTRO, f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {heading}\n\n"
              + TABLE_HEADER + "".join(map(table_row, results)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", nargs="+", choices=ENTITIES, default=list(ENTITIES))
    parser.add_argument("--latencies", nargs="+", type=int, default=[20, 100], help="ms per CRM call")
    parser.add_argument("--workers", nargs="+", type=int, default=[4, 16], help="threads of both clients")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each client per cell (median)")
    parser.add_argument("--records", type=int, default=0,
                        help="new records per run, every cell (default: by --seconds and --min-records)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="records per run = this × the ideal raw rate (workers / latency) ...")
    parser.add_argument("--min-records", type=int, default=300, help="... but at least this many")
    parser.add_argument("--first-load", action="store_true",
                        help="measure the first load into a CRM with none of the entity's records (default: "
                             "new records after it, as many records of the entity loaded before)")
    parser.add_argument("--record", action="store_true", help="append a dated table to benchmarks/RESULTS.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for entity in args.entities:
            cells = [Cell(entity, latency, workers, records_for(latency, workers, args))
                     for latency in args.latencies for workers in args.workers]
            base = prepare_base(entity, Path(tmp) / entity, max(cell.records for cell in cells),
                                args.first_load)
            results += [measure(base, cell, Path(tmp) / "runs", args.repeat) for cell in cells]
    minutes = (time.perf_counter() - started) / 60
    heading = (f"{'the first load' if args.first_load else 'new records after the first load'}, "
               f"{args.repeat} runs of each client per cell, {minutes:.1f} min in all")
    print(f"\n{heading}\n\n" + TABLE_HEADER + "".join(map(table_row, results)))
    for result in results:
        print(result.line())
    if args.record:
        record(results, heading)


if __name__ == "__main__":
    main()
