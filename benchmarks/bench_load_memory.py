"""Benchmark: peak memory of a load against the number of records it loads.

    .venv/bin/python benchmarks/bench_load_memory.py 10000 100000 [--record]

For each size: the demo Tadbir (company 100) with at least that many customers, detected into a ledger, the
queue cut to that many new identities, the company's adoption marked done (the steady state: one create per
record), the sandbox without latency. ``pipeline.load`` then runs alone in a child process, which reports its
own peak RSS (``VmHWM``: per address space; ``ru_maxrss`` would carry the parent's size across fork-exec)
before and after the load. ``--record`` appends the results to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from results import add_table

CUSTOMERS_PER_SCALE = 110
CHILD = r'''
import json, resource, sys, time
import sqlalchemy as sa
from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import Ledger
from hamgam.payamgostar.client import PayamgostarClient

def peak_mb():
    with open("/proc/self/status") as status:
        return round(next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024)

work, url, user, password = sys.argv[1:5]
config = parse_config("companies: [{code: 100, default: true}]\nsync: {crm_max_workers: 16}\n")
ctx = SyncContext(config, config.company(100))
tadbir = sa.create_engine(f"sqlite:///{work}/tadbir_100.sqlite")
ledger = Ledger.connect(f"sqlite:///{work}/ledger.sqlite")
before = peak_mb()
with PayamgostarClient(url, user, password, max_workers=16) as client:
    client.login()
    started = time.perf_counter()
    loaded = pipeline.load(SPECS["identities"], ctx, engine=tadbir, ledger=ledger, client=client, run_id="rss")
    seconds = time.perf_counter() - started
# the preparing process (hamgam.preparer, forked for a load of 1,000 records or more): its peak, shared
# pages with this process included; 0 when there was none
child_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(json.dumps({"created": loaded["created"], "seconds": round(seconds, 1), "before_mb": before,
                  "peak_mb": peak_mb(), "child_peak_mb": child_mb}))
'''


def measure(records: int) -> dict:
    import sqlalchemy as sa

    from hamgam import pipeline
    from hamgam.config import parse_config
    from hamgam.entities import SPECS
    from hamgam.entities.base import SyncContext
    from hamgam.ledger import Ledger
    from pg_sandbox.testing import run_sandbox
    from tadbir_demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_demo(work, scale=-(-records // CUSTOMERS_PER_SCALE), companies=(100,), fiscal_years=(1403, 1404))
        config = parse_config("companies: [{code: 100, default: true}]\n")
        tadbir = sa.create_engine(f"sqlite:///{work}/tadbir_100.sqlite")
        ledger = Ledger.connect(f"sqlite:///{work}/ledger.sqlite")
        pipeline.detect(SPECS["identities"], SyncContext(config, config.company(100)), engine=tadbir,
                        ledger=ledger, run_id="detect")
        keys = [p.tadbir_key for p in ledger.pending(100, "identities", limit=10**9)]
        if len(keys) < records:
            raise SystemExit(f"the demo data queued {len(keys)} customers, {records} wanted")
        ledger.dequeue(100, "identities", keys[records:])
        ledger.set_cursor(100, "identities", "adopted", "done")
        ledger.dispose()
        tadbir.dispose()
        with run_sandbox(work / "sandbox.sqlite", latency_ms=0) as sandbox:
            child = subprocess.run([sys.executable, "-c", CHILD, str(work), sandbox.base_url, sandbox.username,
                                    sandbox.password], capture_output=True, text=True, check=True)
        return {"records": records, **json.loads(child.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+", type=int, help="records per load")
    parser.add_argument("--record", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        result = measure(size)
        print(json.dumps(result), flush=True)
        rows.append(f"| {result['records']} | {result['created']} | {result['seconds']} | {result['before_mb']} | "
                    f"{result['peak_mb']} | {result['child_peak_mb']} |\n")
    if args.record:
        add_table("## Load memory (benchmarks/bench_load_memory.py)",
                  "Identities, new records after adoption (one create each), sandbox without latency, 16 workers; "
                  "`pipeline.load` alone in a child process, its peak RSS (VmHWM) before and after the load.",
                  f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n| records | created | load s | peak RSS before "
                  "the load MB | peak RSS MB | preparing process peak RSS MB (shared pages included) |\n"
                  "|---|---|---|---|---|---|\n" + "".join(rows))


if __name__ == "__main__":
    main()
