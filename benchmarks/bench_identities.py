"""Benchmark: identities throughput and memory, pipeline only (no Airflow start-up in the numbers).

    .venv/bin/python benchmarks/bench_identities.py --scale 10 --latency-ms 20 --workers 4

Builds the demo Tadbir data for company 100 at the given scale, starts the sandbox with the given
latency per call, then measures: the first sync into an empty CRM (detect and load separately), a
second sync over unchanged data (must make zero writes), and the process's peak memory. One line of
results is appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import Ledger
from hamgam.payamgostar.client import PayamgostarClient
from pg_sandbox.testing import run_sandbox
from tadbir_demo import build_demo

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = ("| date | scale | live customers | latency ms | workers | chunk | detect s | load s | records/s "
          "| CRM calls | rerun s | rerun writes | peak RSS MB |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args()

    spec = SPECS["identities"]
    config = parse_config(f"""
companies: [{{code: 100, default: true}}]
sync: {{chunk_size: {args.chunk}, crm_max_workers: {args.workers}}}
""")
    ctx = SyncContext(config, config.company(100))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_demo(work, scale=args.scale, companies=(100,))
        tadbir = sa.create_engine(f"sqlite:///{work / 'tadbir_100.sqlite'}")
        ledger = Ledger.connect(f"sqlite:///{work / 'ledger.sqlite'}")
        with run_sandbox(work / "sandbox.sqlite", latency_ms=args.latency_ms) as sandbox, \
                PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password,
                                  max_workers=args.workers) as client:
            started = time.perf_counter()
            detected = pipeline.detect(spec, ctx, engine=tadbir, ledger=ledger, run_id="bench-1")
            detect_s = time.perf_counter() - started
            started = time.perf_counter()
            loaded = pipeline.load(spec, ctx, engine=tadbir, ledger=ledger, client=client, run_id="bench-1")
            load_s = time.perf_counter() - started
            calls = sum(sandbox.stats()["calls"].values())
            sandbox.reset_stats()
            started = time.perf_counter()
            pipeline.detect(spec, ctx, engine=tadbir, ledger=ledger, run_id="bench-2")
            pipeline.load(spec, ctx, engine=tadbir, ledger=ledger, client=client, run_id="bench-2")
            rerun_s = time.perf_counter() - started
            rerun_writes = sandbox.stats().get("writes", 0)
        ledger.dispose()
    synced = loaded["created"] + loaded["updated"]
    live = detected["queued"] + detected["unchanged"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = (f"| {datetime.now(UTC):%Y-%m-%d} | {args.scale} | {live} | {args.latency_ms} | {args.workers} | "
           f"{args.chunk} | {detect_s:.2f} | {load_s:.2f} | {synced / load_s:.0f} | {calls} | {rerun_s:.2f} | "
           f"{rerun_writes} | {peak_mb:.0f} |\n")
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nIdentities, company 100, pipeline only "
                           "(benchmarks/bench_identities.py); the machine: 2 cores.\n\n" + HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(row)
    print(HEADER + row, end="")


if __name__ == "__main__":
    main()
