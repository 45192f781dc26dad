"""Benchmark: detection cost of sales invoices with the ``checksum`` change capture, against history size.

    .venv/bin/python benchmarks/bench_detect.py --lines 10000 100000 1000000

For each size: a demo-style Tadbir on SQLite with that many document lines (sales invoices and some quotes, 10
lines each, over fiscal years 1403 and 1404, bulk-inserted) and a ledger in step with it (a first detection that
reads everything, then every queued change recorded as synced, as a load would). Both are cached under
``data/bench/detect/`` (gitignored). Then, each in a fresh process so its peak memory is its own:

* a no-change ``checksum`` detect (time, peak RSS, rows read — must be 0);
* one line's quantity edited among them all: detect must queue exactly that invoice (rows read printed);
* optionally (``--scan``) today's full ``scan`` for comparison.

Appends one line per size to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "bench" / "detect"
RESULTS = Path(__file__).with_name("RESULTS.md")
LINES_PER_DOC = 10
HEADER = ("\n## Detection cost (benchmarks/bench_detect.py)\n\nSales invoices, company 100, SQLite Tadbir, "
          "`checksum` change capture, range size 1000; each measurement in a fresh process.\n\n"
          "| date | lines | headers | no-change detect s | rows read | peak RSS MB | one line edited: detect s "
          "| rows read | queued | scan s | scan peak RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|\n")

CONFIG = """
companies: [{code: 100, default: true}]
sync: {chunk_size: 500, checksum_range_size: 1000, max_delete_share: 1.0}
"""


# -- building the data (bulk inserts, cached) -----------------------------------------------------------

def build(lines: int, path: Path) -> None:
    import sqlalchemy as sa

    from hamgam.tadbir import schema

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{tmp}")
    schema.create_all(engine)
    engine.dispose()
    rng = random.Random(1405)
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.executemany('INSERT INTO "__FiscalPeriod__" ("Id", "FPNo", "Name", "StartDate", "EndDate") '
                     "VALUES (?, ?, ?, ?, ?)",
                     [(1, 1403, "1403", "2024-03-20 00:00:00", "2025-03-20 23:59:59"),
                      (2, 1404, "1404", "2025-03-21 00:00:00", "2026-03-20 23:59:59")])
    for fp in (1, 2):
        conn.executemany('INSERT INTO "__Customer__" ("Id", "FPId", "SubscriptionNo", "Name", "RegisterCode") '
                         "VALUES (?, ?, ?, ?, '')", [(i, fp, str(10000 + i), f"مشتری {i}") for i in range(1, 2001)])
        conn.executemany('INSERT INTO "__Merchandise__" ("Id", "FPId", "Code", "Name", "IsGroup", "UnitPrice", '
                         '"UnitId") VALUES (?, ?, ?, ?, 0, ?, 1)',
                         [(i, fp, str(1000 + i), f"کالا {i}", 10_000 * i) for i in range(1, 501)])
        conn.execute('INSERT INTO "__Unit__" ("Id", "FPId", "Name") VALUES (1, ?, ?)', (fp, "عدد"))
        conn.execute('INSERT INTO "__StockRoom__" ("Id", "FPId", "Code", "Name") VALUES (1, ?, 1, ?)', (fp, "انبار"))
        conn.execute('INSERT INTO "__Broker__" ("Id", "FPId", "Name") VALUES (1, ?, ?)', (fp, "فروشنده"))
    docs = lines // LINES_PER_DOC
    per_period = {1: docs // 2, 2: docs - docs // 2}
    for fp, count in per_period.items():
        headers, articles = [], []
        number = {1: 0, 4: 0}
        line_id = 0
        for doc in range(1, count + 1):
            kind = 4 if doc % 10 == 0 else 1  # a quote among every ten documents: not an invoice's line
            number[kind] += 1
            total = 0
            for _ in range(LINES_PER_DOC):
                line_id += 1
                qty, merch = rng.randint(1, 9), rng.randint(1, 500)
                price = 10_000 * merch
                total += qty * price
                articles.append((line_id, doc, fp, merch, qty, price, qty * price, 1, 1))
            day = f"{2024 + fp - 1}-{4 + doc % 8:02d}-{1 + doc % 28:02d} 00:00:00"
            headers.append((doc, fp, kind, number[kind], day, 1 + doc % 2000, 1, total, f"فاکتور {doc}"))
            if len(articles) >= 200_000:
                _flush(conn, headers, articles)
        _flush(conn, headers, articles)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    tmp.replace(path)


def _flush(conn: sqlite3.Connection, headers: list, articles: list) -> None:
    conn.executemany('INSERT INTO "__SPFactor__" ("Id", "FPId", "FactorType", "FactorNo", "SPDate", "CustomerId", '
                     '"BrokerId", "Total", "SPDesc") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', headers)
    conn.executemany('INSERT INTO "__SPArticle__" ("Id", "SPId", "FPId", "MerchandiseId", "Amount", "UnitPrice", '
                     '"NetPrice", "StockRoomId", "UnitId") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', articles)
    headers.clear()
    articles.clear()


def in_step(tadbir: Path, ledger_path: Path) -> float:
    """A ledger in step with ``tadbir``: a first checksum detect (reads everything), then the queue recorded
    as synced in bulk. Returns the first detect's seconds."""
    from sqlalchemy import create_engine, text

    from hamgam import pipeline
    from hamgam.config import parse_config
    from hamgam.entities import SPECS
    from hamgam.entities.base import SyncContext
    from hamgam.ledger import Ledger

    config = parse_config(CONFIG)
    ctx = SyncContext(config, config.company(100))
    tmp = ledger_path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tadbir}")
    with Ledger.connect(f"sqlite:///{tmp}") as ledger:
        started = time.perf_counter()
        pipeline.detect(SPECS["sales_invoices"], ctx, engine=engine, ledger=ledger, run_id="bench-first")
        seconds = time.perf_counter() - started
        with ledger.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO sync_record (company, entity, tadbir_key, crm_id, content_hash, origin, status, "
                "attempts, created_at, updated_at, synced_at) SELECT company, entity, tadbir_key, "
                "'crm-' || tadbir_key, content_hash, 'tadbir', 'synced', 1, detected_at, detected_at, detected_at "
                "FROM pending_change WHERE action = 'upsert'"))
            conn.execute(text("DELETE FROM pending_change"))
    engine.dispose()
    tmp.replace(ledger_path)
    return seconds


def prepared(lines: int) -> tuple[Path, Path]:
    tadbir = CACHE / f"tadbir_{lines}.sqlite"
    ledger = CACHE / f"ledger_{lines}.sqlite"
    if not tadbir.exists():
        started = time.perf_counter()
        build(lines, tadbir)
        print(f"  built {tadbir.name} in {time.perf_counter() - started:.1f} s", flush=True)
    if not ledger.exists():
        print(f"  first detect (reads everything) of {lines} lines: {in_step(tadbir, ledger):.1f} s", flush=True)
    return tadbir, ledger


# -- one measurement, in its own process ----------------------------------------------------------------

def measure(tadbir: Path, ledger_path: Path, capture: str, edit: bool) -> dict:
    import shutil
    import tempfile

    from sqlalchemy import create_engine

    from hamgam import pipeline
    from hamgam.config import parse_config
    from hamgam.entities import SPECS
    from hamgam.entities.base import SyncContext
    from hamgam.ledger import Ledger

    config = parse_config(CONFIG)
    ctx = SyncContext(config, config.company(100))
    with tempfile.TemporaryDirectory() as tmp:
        work_tadbir, work_ledger = Path(tmp) / "tadbir.sqlite", Path(tmp) / "ledger.sqlite"
        shutil.copyfile(tadbir, work_tadbir)  # the cached files stay as they are
        shutil.copyfile(ledger_path, work_ledger)
        engine = create_engine(f"sqlite:///{work_tadbir}")
        if edit:  # one line's quantity, somewhere in the middle of 1404: its header stays as it is
            with engine.begin() as conn:
                conn.exec_driver_sql('UPDATE "__SPArticle__" SET "Amount" = "Amount" + 1 WHERE "FPId" = 2 AND "Id" = '
                                     '(SELECT "Id" FROM "__SPArticle__" WHERE "FPId" = 2 ORDER BY "Id" LIMIT 1 OFFSET '
                                     '(SELECT COUNT(*) / 2 FROM "__SPArticle__" WHERE "FPId" = 2))')
        ledger = Ledger.connect(f"sqlite:///{work_ledger}")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        counts = pipeline.detect(SPECS["sales_invoices"], ctx, engine=engine, ledger=ledger, run_id="bench",
                                 capture=capture)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ledger.dispose()
        engine.dispose()
    return {"seconds": seconds, "peak_mb": peak / 1024, "start_mb": before / 1024, **counts}


def run_measure(tadbir: Path, ledger: Path, capture: str, edit: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", str(tadbir), str(ledger), capture,
                          "edit" if edit else "plain"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--scan", action="store_true", help="also time today's full scan (slow at 1M lines)")
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        tadbir, ledger, capture, edit = args.measure
        print(json.dumps(measure(Path(tadbir), Path(ledger), capture, edit == "edit")))
        return

    rows = []
    for lines in args.lines:
        print(f"{lines} lines", flush=True)
        tadbir, ledger = prepared(lines)
        plain = run_measure(tadbir, ledger, "checksum", edit=False)
        edited = run_measure(tadbir, ledger, "checksum", edit=True)
        scan = run_measure(tadbir, ledger, "scan", edit=False) if args.scan else None
        print(f"  no change: {plain['seconds']:.2f} s, {plain['rows_read']} rows read, {plain['queued']} queued, "
              f"peak RSS {plain['peak_mb']:.0f} MB (at start {plain['start_mb']:.0f} MB)")
        print(f"  one line edited: {edited['seconds']:.2f} s, {edited['rows_read']} rows read "
              f"({edited['ranges_read']} range(s)), {edited['queued']} queued")
        if scan:
            print(f"  scan: {scan['seconds']:.2f} s, peak RSS {scan['peak_mb']:.0f} MB")
        assert plain["rows_read"] == 0 and plain["queued"] == 0, plain
        assert edited["queued"] == 1, edited
        rows.append((lines, lines // LINES_PER_DOC, plain, edited, scan))

    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if "## Detection cost" not in text:
        text += HEADER
    day = datetime.now(UTC).date().isoformat()
    for lines, headers, plain, edited, scan in rows:
        text += (f"| {day} | {lines} | {headers} | {plain['seconds']:.2f} | {plain['rows_read']} | "
                 f"{plain['peak_mb']:.0f} | {edited['seconds']:.2f} | {edited['rows_read']} | {edited['queued']} | "
                 f"{scan['seconds']:.1f} | {scan['peak_mb']:.0f} |\n" if scan else
                 f"| {day} | {lines} | {headers} | {plain['seconds']:.2f} | {plain['rows_read']} | "
                 f"{plain['peak_mb']:.0f} | {edited['seconds']:.2f} | {edited['rows_read']} | {edited['queued']} "
                 f"| - | - |\n")
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
