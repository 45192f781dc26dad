"""Benchmark: what one probe of the event-driven trigger costs Tadbir, against history size.

    .venv/bin/python benchmarks/bench_probe.py --lines 10000 100000 1000000 [--postgres] [--record]

Uses the sales-invoice Tadbir databases ``benchmarks/bench_detect.py`` builds and caches under
``data/bench/detect/`` (run it first for the sizes wanted). For each size it times
``hamgam.tadbir.changes.probe_token`` for sales invoices (the heaviest probe: headers and lines) on SQLite —
with the file-state memo cleared, i.e. what a probe costs right after a write — and, with ``--postgres``, on a
copy of the same rows in a fresh database on the local PostgreSQL (dropped afterwards). With the trigger's
pacing (``hamgam.triggers.MAX_DUTY``: a watcher probes at most a tenth of the time), a probe of ``t`` seconds
is asked every ``max(interval, 10 t)`` seconds, so the figures say both what a probe costs and how fresh a
company of that size can be kept.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "bench" / "detect"
RESULTS = Path(__file__).with_name("RESULTS.md")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONFIG = "companies: [{code: 100, default: true}]\n"


def time_probe(engine: sa.Engine, rounds: int) -> float:
    from hamgam.config import parse_config
    from hamgam.entities import SPECS
    from hamgam.entities.base import SyncContext
    from hamgam.tadbir import changes

    config = parse_config(CONFIG)
    ctx = SyncContext(config, config.company(100))
    spent = []
    for _ in range(rounds + 1):
        changes._PROBE_MEMO.clear()  # what a probe costs after a write (the memo answers unchanged SQLite files)
        started = time.perf_counter()
        changes.probe_token(engine, SPECS["sales_invoices"], ctx)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent[1:])  # the first warms caches


def copy_to_postgres(source: sa.Engine) -> str:
    from hamgam.tadbir import schema

    name = f"hamgam_probe_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    target = sa.create_engine(url)
    schema.create_all(target)
    present = set(sa.inspect(source).get_table_names())
    with source.connect() as src, target.begin() as dst:
        for table in schema.metadata.sorted_tables:
            if table.name not in present:
                continue
            result = src.execute(sa.select(table)).mappings()
            while batch := result.fetchmany(20_000):
                dst.execute(table.insert(), [dict(row) for row in batch])
    with target.begin() as conn:  # fresh statistics, as autovacuum would have them: the planner needs them
        conn.execute(sa.text("ANALYZE"))
    target.dispose()
    return url


def drop(url: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for lines in args.lines:
        path = CACHE / f"tadbir_{lines}.sqlite"
        if not path.exists():
            print(f"{path} missing: run benchmarks/bench_detect.py --lines {lines} first", file=sys.stderr)
            return 1
        sqlite = sa.create_engine(f"sqlite:///{path}")
        lite = time_probe(sqlite, args.rounds)
        pg = None
        if args.postgres:
            url = copy_to_postgres(sqlite)
            try:
                pg = time_probe(sa.create_engine(url), args.rounds)
            finally:
                drop(url)
        sqlite.dispose()
        rows.append((lines, lite, pg))
        print(f"{lines:>9} lines: one sales-invoice probe {lite * 1000:8.1f} ms on SQLite"
              + (f", {pg * 1000:8.1f} ms on PostgreSQL" if pg is not None else ""), flush=True)
    if args.record:
        text = RESULTS.read_text(encoding="utf-8")
        if "## Probe cost" not in text:
            text += ("\n## Probe cost (benchmarks/bench_probe.py)\n\nOne `probe_token` of sales invoices (headers and "
                     "lines, `checksum` capture), median, right after a write; a watcher probes every "
                     "max(`probe_interval_seconds`, 10 × this).\n\n| date | lines | SQLite ms | PostgreSQL ms |\n"
                     "|---|---|---|---|\n")
        for lines, lite, pg in rows:
            text += (f"| {datetime.now(UTC):%Y-%m-%d} | {lines} | {lite * 1000:.1f} | "
                     f"{'-' if pg is None else format(pg * 1000, '.1f')} |\n")
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
