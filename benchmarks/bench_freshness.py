"""Benchmark: freshness of event-driven runs under a real Airflow, from commit in Tadbir to the record in the CRM.

    make bench-freshness                     # SQLite, then PostgreSQL; 26 changes each
    .venv/bin/python benchmarks/bench_freshness.py --backend sqlite --changes 26 --record

For each backend (the demo Tadbir on SQLite files, then the same rows hosted on the local PostgreSQL at
127.0.0.1:5432) it builds the demo data, starts the Payamgostar sandbox (20 ms per call) and a real Airflow
(scheduler, DAG processor, triggerer, API server; ``hamgam.executor.FAST_SETTINGS``) with the seven forward
DAGs unpaused and their probes watching both companies, and waits until their first runs are done. Then a
finance user (``hamgam_dev.freshness.Finance``) saves ``--changes`` changes — inserts, edits, line edits and
deletes of customers, products, sales invoices, quotes, receipts and payments, in both companies — each a
random ``--gap`` after the one before, whatever is running, and the time from each commit to the record
visible in the sandbox is measured (the sandbox is polled every 0.1 s). Then a burst of ``--burst`` saves to
one customer shows how many runs they make, and a quiet window measures the probes' cost: the triggerer's
CPU and (PostgreSQL) the transactions per second the Tadbir databases see.

Each backend ends with the line ``freshness p50 <s> s p95 <s> s over <n> changes``; ``--record`` appends the
results to benchmarks/RESULTS.md. Exit status 1 if a change never arrived or a run failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hamgam_dev.freshness import (
    Finance,
    FreshnessError,
    Measured,
    apply_at_random_moments,
    burst,
    event_world,
    explain,
    percentile,
    probe_cost,
    probe_query_ms,
)

RESULTS = Path(__file__).with_name("RESULTS.md")


def describe(measured: Measured) -> str:
    out = [f"  {'s':>6}  {'busy':<4}  change"]
    for change, busy in zip(measured.changes, measured.busy_at_commit, strict=True):
        seconds = f"{change.seconds:6.1f}" if change.seconds is not None else "  never"
        out.append(f"  {seconds}  {'yes' if busy else '':<4}  {change.label} (company {change.company})")
    times = measured.times
    if times:
        qs = " ".join(f"p{q} {percentile(times, q):.1f}" for q in (0, 25, 50, 75, 90, 95, 100))
        out.append(f"  distribution (s): {qs}")
        by_kind: dict[str, list[float]] = {}
        for change in measured.changes:
            if change.seconds is not None:
                by_kind.setdefault(change.kind, []).append(change.seconds)
        out.append("  by kind (median s): " + ", ".join(f"{k} {percentile(v, 50):.1f} (n={len(v)})"
                                                        for k, v in sorted(by_kind.items())))
        idle = [c.seconds for c, b in zip(measured.changes, measured.busy_at_commit, strict=True)
                if not b and c.seconds is not None]
        busy = [c.seconds for c, b in zip(measured.changes, measured.busy_at_commit, strict=True)
                if b and c.seconds is not None]
        if idle:
            out.append(f"  committed while the entity's DAG was idle: median {percentile(idle, 50):.1f} s (n={len(idle)})")
        if busy:
            out.append(f"  committed while a run of it was going: median {percentile(busy, 50):.1f} s (n={len(busy)})")
    out.append(f"  runs during the measurement: {dict(measured.runs)}; failed: {measured.failed_runs or 'none'}")
    out.append("  task durations, median s (event runs): " + ", ".join(f"{t} {v:.2f}" for t, v in measured.tasks.items()))
    return "\n".join(out)


def run_backend(backend: str, args: argparse.Namespace) -> tuple[Measured, dict, dict, dict, float]:
    rng = random.Random(args.seed)
    settings = {"probe_interval_seconds": args.probe_interval, "retry_delay_seconds": 5}
    if args.schedule is not None:
        settings["schedule"] = args.schedule or None
    with tempfile.TemporaryDirectory(prefix="hamgam-fresh-") as tmp:
        if args.workdir:  # kept for a look at the task logs afterwards
            tmp = str(Path(args.workdir).resolve() / backend)
            Path(tmp).mkdir(parents=True, exist_ok=False)
        began = time.monotonic()
        extra = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"} if args.executor == "plain" else {}
        with event_world(Path(tmp), backend=backend, latency_ms=args.latency_ms, settings=settings,
                         extra_env=extra) as world:
            print(f"[{backend}] Airflow up, watchers registered and the first runs done in "
                  f"{time.monotonic() - began:.0f} s", flush=True)
            finance = Finance(world, rng=rng)
            changes = finance.mix(args.changes)
            measured = apply_at_random_moments(world, changes, rng, gap=args.gap)
            print(describe(measured), flush=True)
            if args.explain:
                for change in sorted(measured.changes, key=lambda c: -(c.seconds or 1e9))[:args.explain]:
                    print(explain(world, change), flush=True)
            bursted = burst(world, args.burst) if args.burst else {}
            if bursted:
                print(f"  burst: {bursted['saves']} saves of one customer in {bursted['save_seconds']:.1f} s made "
                      f"{bursted['runs']} run(s) of the identities DAG ({', '.join(bursted['run_types'])}); the last "
                      f"save was in the CRM {bursted['visible_after']:.1f} s after its commit", flush=True)
            query_ms = probe_query_ms(world)
            cost = probe_cost(world, args.window)
            tx, idle_tx = cost["tadbir_tx_per_s"], cost.get("baseline_tx_per_s")
            print(f"  probes: 14 watchers every {args.probe_interval:g} s; over {cost['window_s']:.0f} quiet s the "
                  f"triggerer used {cost['triggerer_cpu_pct']:.1f} % of one core (RSS {cost['triggerer_rss_mb']:.0f} "
                  f"MB)" + (f", Tadbir saw {tx:.1f} transactions/s" if tx is not None else "")
                  + f" ({cost['runs_in_window']} runs in the window); without any watcher: "
                  f"{cost['baseline_cpu_pct']:.1f} %" + (f", {idle_tx:.1f} transactions/s" if idle_tx is not None
                                                          else ""), flush=True)
            print("  one probe query (ms, mean, measured in this process; SQLite answers from its file-state memo "
                  "while the file is unchanged): " + ", ".join(f"{e} {ms:.1f}" for e, ms in query_ms.items()))
            print(measured.line(), flush=True)
            return measured, bursted, cost, query_ms, time.monotonic() - began


HEADER = ("\n## Event-driven freshness (benchmarks/bench_freshness.py)\n\n"
          "Commit in Tadbir → record visible in the sandbox (20 ms per call), under a real Airflow (scheduler, DAG "
          "processor, triggerer, API server; LocalExecutor, warm or plain), 2 companies, 7 forward DAGs, 14 probes; "
          "changes 1–12 s apart at random whatever is running. Probe cost over a quiet 30 s window, then again with "
          "no watcher.\n\n"
          "| date | Tadbir on | executor | probe every s | changes | p50 s | p95 s | max s | distribution s "
          "(p0/p25/p75/p90) | median s by kind | committed while busy | runs | task medians s (detect/load/report) "
          "| burst saves → runs | triggerer CPU % of a core (no watcher) | Tadbir tx/s (no watcher) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def record(backend: str, args, measured: Measured, bursted: dict, cost: dict, query_ms: dict) -> None:
    times = measured.times
    kinds = Counter(c.kind for c in measured.changes)
    by_kind: dict[str, list[float]] = {}
    for change in measured.changes:
        if change.seconds is not None:
            by_kind.setdefault(change.kind, []).append(change.seconds)
    tx = cost["tadbir_tx_per_s"]
    row = (f"| {datetime.now(UTC):%Y-%m-%d} | {backend} | {args.executor} | {args.probe_interval:g} | "
           f"{len(times)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}) | "
           f"{percentile(times, 50):.1f} | {percentile(times, 95):.1f} | {max(times):.1f} | "
           f"{'/'.join(format(percentile(times, q), '.1f') for q in (0, 25, 75, 90))} | "
           f"{', '.join(f'{k} {percentile(v, 50):.1f}' for k, v in sorted(by_kind.items()))} | "
           f"{sum(measured.busy_at_commit)} | {sum(measured.runs.values())} "
           f"({', '.join(f'{k} {n}' for k, n in sorted(measured.runs.items()))}) | "
           f"{'/'.join(format(measured.tasks.get(t, 0), '.2f') for t in ('detect', 'load', 'report'))} | "
           f"{bursted.get('saves', '-')} → {bursted.get('runs', '-')} | "
           f"{cost['triggerer_cpu_pct']:.1f} ({cost['baseline_cpu_pct']:.1f}) | "
           f"{'-' if tx is None else format(tx, '.1f') + ' (' + format(cost['baseline_tx_per_s'], '.1f') + ')'} |\n")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if "## Event-driven freshness" not in text:
        text += HEADER
    RESULTS.write_text(text + row, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--changes", type=int, default=26)
    parser.add_argument("--gap", type=float, nargs=2, default=(1.0, 12.0), metavar=("MIN", "MAX"),
                        help="seconds between one change and the next, uniform")
    parser.add_argument("--probe-interval", type=float, default=1.0)
    parser.add_argument("--schedule", default=None, help="override sync.schedule (the safety-net cron); '' for none")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds of the quiet probe-cost window")
    parser.add_argument("--executor", choices=("warm", "plain"), default="warm",
                        help="warm: hamgam.executor.WarmLocalExecutor; plain: Airflow's LocalExecutor")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--explain", type=int, default=0, metavar="N",
                        help="print the run timelines behind the N slowest changes")
    parser.add_argument("--workdir", help="build the worlds in this (new) folder and keep them")
    parser.add_argument("--record", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    failures = []
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        try:
            measured, bursted, cost, query_ms, _ = run_backend(backend, args)
        except FreshnessError as exc:
            print(f"[{backend}] ERROR: {exc}", file=sys.stderr)
            failures.append(backend)
            continue
        if len(measured.times) < len(measured.changes):
            failures.append(f"{backend}: {len(measured.changes) - len(measured.times)} change(s) never arrived")
        if measured.failed_runs or bursted.get("failed"):
            failures.append(f"{backend}: failed runs {measured.failed_runs + bursted.get('failed', [])}")
        if args.record and measured.times:
            record(backend, args, measured, bursted, cost, query_ms)
    if failures:
        print("ERROR: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
