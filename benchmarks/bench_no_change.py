"""Benchmark: a run with nothing to sync, split into Airflow's own time and hamgam's work (`make bench-no-change`).

    .venv/bin/python benchmarks/bench_no_change.py --rounds 3 --record

A real Airflow (scheduler, DAG processor, triggerer, API server; the warm LocalExecutor) on the demo Tadbir
(SQLite) and the sandbox, started as `make bench-freshness` starts it (``hamgam_dev.freshness.event_world``);
once the first runs have synced everything, each round triggers every forward DAG by hand with nothing
changed and waits for the runs to end. From Airflow's API: each run's wall time (queued → ended) and the time
its task instances ran (start → end, both companies' mapped tries). Then hamgam's work alone: the same task
functions (``hamgam.tasks.detect``, ``load``, ``report``, per company) called in this process, warm, on the same
Tadbir, ledger and CRM, timed. Airflow's share of a run = its wall time − hamgam's work. One line per DAG and
the totals; ``--record`` appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from results import add_table

from hamgam_dev.freshness import COMPANIES, ENTITIES, FORWARD, FreshnessError, _when, event_world

SECTION = "## A run with nothing to sync (benchmarks/bench_no_change.py)"


def trigger_all(world) -> dict[str, str]:
    """One manual run of every forward DAG; returns dag_run_id by entity."""
    return {entity: world.server.api("POST", f"/dags/{FORWARD[entity]}/dagRuns",
                                     json={"logical_date": None})["dag_run_id"] for entity in ENTITIES}


def wait_ended(world, run_ids: dict[str, str], timeout: float = 600.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {entity: world.server.api("GET", f"/dags/{FORWARD[entity]}/dagRuns/{quote(run_id, safe='')}")
                for entity, run_id in run_ids.items()}
        if all(run["state"] in ("success", "failed") for run in runs.values()):
            failed = [e for e, run in runs.items() if run["state"] == "failed"]
            if failed:
                raise FreshnessError(f"no-change runs failed: {failed}")
            return runs
        if time.monotonic() > deadline:
            raise FreshnessError(f"no-change runs did not end within {timeout:.0f} s")
        world.server._check_alive()
        time.sleep(0.2)


def task_time(world, entity: str, run_id: str) -> float:
    """Seconds the run's task instances ran, summed (mapped ones included)."""
    path = f"/dags/{FORWARD[entity]}/dagRuns/{quote(run_id, safe='')}/taskInstances"
    total = 0.0
    for ti in world.server.api("GET", path)["task_instances"]:
        start, end = _when(ti["start_date"]), _when(ti["end_date"])
        if start and end:
            total += end - start
    return total


def hamgam_work(entity: str, round_no: int) -> float:
    """Seconds hamgam's own task functions take for one no-change run of ``entity``, both companies, warm."""
    from hamgam import tasks

    dag_id, run_id = FORWARD[entity], f"bench_no_change__{round_no}"
    started = time.perf_counter()
    for company in COMPANIES:
        detected = tasks.detect(entity, company, run_id=run_id, dag_id=dag_id)
        if detected.get("queued"):
            raise FreshnessError(f"{entity} company {company}: {detected['queued']} change(s) queued in a "
                                 "no-change run")
        tasks.load(entity, detected, dag_id=dag_id, run_id=run_id)
    tasks.report(entity, run_id=run_id, dag_id=dag_id)
    return time.perf_counter() - started


COLD = """
import sys, time
started = time.perf_counter()
from hamgam import tasks
imported = time.perf_counter() - started
sys.path.insert(0, {here!r})
from bench_no_change import hamgam_work
print(imported, hamgam_work({entity!r}, -1))
"""


def cold_work(entity: str) -> tuple[float, float]:
    """(import s, work s) of hamgam's task functions for ``entity`` in a new Python process (as a task process
    that was not forked from a warmed parent pays them)."""
    code = COLD.format(here=str(Path(__file__).parent), entity=entity)
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                          check=True, timeout=300)
    imported, work = (float(v) for v in done.stdout.split()[-2:])
    return imported, work


def runs_of(world, run_ids: dict[str, str], walls, waits, tasks) -> None:
    for entity, run in wait_ended(world, run_ids).items():
        queued, started, ended = (_when(run[k]) for k in ("queued_at", "start_date", "end_date"))
        walls[entity].append(ended - queued)
        waits[entity].append(started - queued)
        tasks[entity].append(task_time(world, entity, run["dag_run_id"]))


def measure(rounds: int) -> dict[str, dict[str, dict[str, float]]]:
    """By mode (``together``: the seven DAGs triggered at once, as a cron tick starts them; ``alone``: one at
    a time) and DAG: medians of wall, queued → started and task time; hamgam's work warm and cold."""
    med = statistics.median
    result: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="hamgam-nochange-") as tmp, event_world(Path(tmp)) as world:
        print(f"Airflow up and the first runs done in {world.started_in:.0f} s", flush=True)
        for mode in ("together", "alone"):
            walls: dict[str, list[float]] = {e: [] for e in ENTITIES}
            waits: dict[str, list[float]] = {e: [] for e in ENTITIES}
            tasks: dict[str, list[float]] = {e: [] for e in ENTITIES}
            for n in range(rounds):
                if mode == "together":
                    runs_of(world, trigger_all(world), walls, waits, tasks)
                else:
                    for entity in ENTITIES:
                        run_id = world.server.api("POST", f"/dags/{FORWARD[entity]}/dagRuns",
                                                  json={"logical_date": None})["dag_run_id"]
                        runs_of(world, {entity: run_id}, walls, waits, tasks)
                print(f"  {mode}, round {n + 1}: " + ", ".join(f"{e} {walls[e][-1]:.1f} s" for e in ENTITIES),
                      flush=True)
            result[mode] = {e: {"wall": med(walls[e]), "queued": med(waits[e]), "tasks": med(tasks[e])}
                            for e in ENTITIES}
        os.environ.update(world.server.env)  # the tasks' settings and connections, as the workers have them
        work: dict[str, list[float]] = {e: [] for e in ENTITIES}
        for n in range(rounds + 1):  # the first one warms this process (imports, GX): not counted
            for entity in ENTITIES:
                seconds = hamgam_work(entity, n)
                if n:
                    work[entity].append(seconds)
        cold = {e: cold_work(e) for e in ENTITIES}
    for mode in result.values():
        for entity, m in mode.items():
            m["hamgam"] = med(work[entity])
            m["import"], m["cold"] = cold[entity]
    return result


HEADER = ("| DAGs run | DAG | run wall s (queued → ended) | queued → started s | task instances ran s (Σ) "
          "| hamgam's work s, warm | hamgam's work s, new process (import s) | Airflow's share s (wall − warm work) "
          "| Airflow's share % |\n|---|---|---|---|---|---|---|---|---|\n")


def rows(result: dict[str, dict[str, dict[str, float]]]) -> str:
    out = []
    for mode, by_entity in result.items():
        for entity, m in by_entity.items():
            airflow = m["wall"] - m["hamgam"]
            out.append(f"| {mode} | {FORWARD[entity]} | {m['wall']:.2f} | {m['queued']:.2f} | {m['tasks']:.2f} | "
                       f"{m['hamgam']:.2f} | {m['cold']:.2f} ({m['import']:.2f}) | {airflow:.2f} | "
                       f"{airflow / m['wall']:.0%} |\n")
    return "".join(out)


def split_line(mode: str, by_entity: dict[str, dict[str, float]]) -> str:
    wall = statistics.median(m["wall"] for m in by_entity.values())
    work = statistics.median(m["hamgam"] for m in by_entity.values())
    return (f"no-change run ({mode}): Airflow {wall - work:.2f} s, hamgam {work:.2f} s of {wall:.2f} s "
            f"(median DAG of {len(by_entity)})")


INTRO = ("Every forward DAG triggered by hand with nothing changed in Tadbir, under a real Airflow (warm "
         "LocalExecutor, 2 companies: each DAG runs detect and load per company, then report); hamgam's work = "
         "the same task functions called in one warm process, and in a new one. Medians over the rounds.\n")


def record(table: str, rounds: int) -> None:
    add_table(SECTION, INTRO, f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {rounds} rounds of each, the demo "
                              f"Tadbir on SQLite\n\n{table}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    try:
        result = measure(args.rounds)
    except FreshnessError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    table = HEADER + rows(result)
    print("\n" + table)
    for mode, by_entity in result.items():
        print(split_line(mode, by_entity))
    if args.record:
        record(table, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
