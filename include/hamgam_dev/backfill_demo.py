"""`make backfill-demo`: backfill fiscal years 1403 and 1404 through a real Airflow, twice.

Steps: fresh demo data and Airflow state (hamgam_dev.demo.prepare), the sandbox, a real Airflow (scheduler,
DAG processor and API server: hamgam_dev.airflow_server.AirflowServer) in its own AIRFLOW_HOME, then the
backfill of tadbir_to_payamgostar__by_fiscal_year from 2024-03-20 to 2026-03-20 — one run per fiscal
year — and the same backfill again with reprocess_behavior "completed" (Airflow clears both runs and
runs them again), which must make zero CRM writes. Prints each run's fiscal year, state and duration
and each backfill's CRM writes, then stops everything. Exit status 1 if a run failed or the second
backfill wrote to the CRM.

The helpers (`run_backfill`, `failed_task_logs`, `SCHEDULER_SETTINGS`) are also what
tests/e2e/test_backfill_by_fiscal_year.py uses.
"""

from __future__ import annotations

import datetime
import importlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow.executors.local_executor import LocalExecutor

from hamgam.dagbuilder import BY_FISCAL_YEAR
from hamgam.gx import import_gx
from hamgam_dev.devenv import airflow_env

FROM_DATE, TO_DATE = "2024-03-20", "2026-03-20"  # UTC midnights: 1 Farvardin 1403 .. 29 Esfand 1404
CLI_EQUIVALENT = (f'make airflow ARGS="backfill create --dag-id {BY_FISCAL_YEAR} '
                  f'--from-date {FROM_DATE} --to-date {TO_DATE}"')

# The modules every load task imports (and Great Expectations: ~3 s of CPU per task process).
PRELOAD = ("pandas", "hamgam.dagbuilder", "hamgam.pipeline", "hamgam.tasks",
           "hamgam.validate", "hamgam.payamgostar.hook")


def preload() -> None:
    """Import Great Expectations (its loggers quieted first: hamgam.gx) and PRELOAD in this process."""
    import_gx()
    for name in PRELOAD:
        importlib.import_module(name)


class PreloadingLocalExecutor(LocalExecutor):
    """Airflow's LocalExecutor, with PRELOAD imported before it forks its workers.

    Each task runs in a process forked from a worker, which is forked from the scheduler, so the tasks
    start with these modules loaded instead of importing them again each time (on 2 cores that is
    most of a first backfill's time). Nothing else changes. The imports start no thread (GX analytics
    is off in hamgam_dev.devenv), so forking after them is safe.
    """

    def start(self) -> None:
        preload()
        super().start()


# For a quick turn-around on a small machine (on 2 cores the test went from 180-195 s, partly under load, to 50-55 s):
# - the preloading executor;
# - workers that notice a finished task process within 1 s: a worker waits for its task process's
#   exit in a select() of up to [workers] min_heartbeat_interval (default 5 s); a process that closes
#   its sockets before it has exited (while Python tears down) leaves it sitting out the whole
#   interval, so 0.3 s tasks took a median 1.4 s, up to 5.6 s, of their worker's time;
# - 8 tasks at once (a fiscal year's second layer is 4 entities x 2 companies, mostly waiting on I/O);
# - a scheduler that notices finished tasks sooner (by default it sleeps 1 s after an idle loop);
# - a DAG processor that does not re-parse the unchanged DAG file every 30 s.
SCHEDULER_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "hamgam_dev.backfill_demo.PreloadingLocalExecutor",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}


class BackfillError(RuntimeError):
    pass


@dataclass
class Backfill:
    """One backfill and how its runs ended."""

    id: int
    reprocess_behavior: str
    runs: list[dict[str, Any]] = field(default_factory=list)  # oldest year first, with "fiscal_year"
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return bool(self.runs) and all(r["state"] == "success" for r in self.runs)


def _when(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _runs(server, dag_id: str) -> list[dict[str, Any]]:
    return server.api("GET", f"/dags/{dag_id}/dagRuns",
                      params={"limit": 1000, "order_by": "logical_date"})["dag_runs"]


def run_backfill(server, from_date: str = FROM_DATE, to_date: str = TO_DATE, *, dag_id: str = BY_FISCAL_YEAR,
                 reprocess_behavior: str = "none", timeout: float = 600.0) -> Backfill:
    """Create a backfill, unpause the DAG, wait until every run of it has finished; returns them.

    A backfill's runs are the DAG's runs at the logical dates its dry run names, queued since the
    backfill was created (new runs are created queued; runs reprocessed are cleared, which re-queues
    them under the same run id). Once they have all finished the backfill is closed through the API's
    cancel call, which for a backfill without queued runs only sets its completed_at: the scheduler
    marks backfills complete only every 30 s, and until then a new backfill of the DAG is refused.
    """
    from hamgam.timetables import fiscal_year_of_interval
    from hamgam_dev.airflow_server import AirflowServerError

    started = time.monotonic()
    wanted = server.backfill(dag_id, from_date, to_date, reprocess_behavior=reprocess_behavior, dry_run=True)
    if not wanted:
        raise BackfillError(f"a backfill of {dag_id} from {from_date} to {to_date} (reprocess "
                            f"{reprocess_behavior}) has nothing to run")
    backfill_id = server.backfill(dag_id, from_date, to_date, reprocess_behavior=reprocess_behavior)
    created = _when(server.api("GET", f"/backfills/{backfill_id}")["created_at"])
    server.unpause(dag_id)  # after the backfill: see hamgam_dev.airflow_server
    wanted_dates = {_when(date) for date in wanted}
    deadline = started + timeout
    while True:
        runs = [r for r in _runs(server, dag_id)
                if r["logical_date"] and _when(r["logical_date"]) in wanted_dates
                and r["queued_at"] and _when(r["queued_at"]) >= created]
        if len(runs) == len(wanted_dates) and all(r["state"] in ("success", "failed") for r in runs):
            break
        if time.monotonic() > deadline:
            raise BackfillError(f"backfill {backfill_id} of {dag_id}: runs not finished after {timeout:.0f} s: "
                                f"{[(r['dag_run_id'], r['state']) for r in runs]}\n{server.log_tail()}")
        server._check_alive()
        time.sleep(0.5)
    try:
        server.api("PUT", f"/backfills/{backfill_id}/cancel")
    except AirflowServerError as exc:
        if exc.status != 409:  # 409: the scheduler has just marked it complete itself
            raise
    result = Backfill(backfill_id, reprocess_behavior, seconds=time.monotonic() - started)
    for run in runs:
        result.runs.append({
            "run_id": run["dag_run_id"], "state": run["state"], "run_type": run["run_type"],
            "data_interval_start": run["data_interval_start"], "data_interval_end": run["data_interval_end"],
            "fiscal_year": fiscal_year_of_interval(run["data_interval_start"]),
            "note": run.get("note"),  # "fiscal year 1403" (hamgam.run_notes)
            "seconds": (_when(run["end_date"]) - _when(run["start_date"])).total_seconds()
            if run["start_date"] and run["end_date"] else None})
    return result


def _log_lines(path: Path, limit: int) -> list[str]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        text = f"{entry.get('timestamp', '')[11:23]} {entry.get('level', ''):<7} {entry.get('event', '')}"
        for key in ("error_detail", "exception"):
            if entry.get(key):
                text += "\n    " + json.dumps(entry[key], ensure_ascii=False)[:3000]
        lines.append(text)
    return lines[-limit:]


def failed_task_logs(server, runs: list[dict[str, Any]], *, dag_id: str = BY_FISCAL_YEAR,
                     lines: int = 25) -> str:
    """Every task instance of `runs` that did not succeed, with the end of its log ($AIRFLOW_HOME/logs)."""
    out = []
    for run in runs:
        path = f"/dags/{dag_id}/dagRuns/{quote(run['run_id'], safe='')}/taskInstances"
        for ti in server.api("GET", path, params={"limit": 1000})["task_instances"]:
            if ti["state"] == "success":
                continue
            out.append(f"--- {run['run_id']} {ti['task_id']}[{ti['map_index']}]: {ti['state']}")
            folder = server.home / "logs" / f"dag_id={dag_id}" / f"run_id={run['run_id']}" / f"task_id={ti['task_id']}"
            if ti["map_index"] >= 0:
                folder /= f"map_index={ti['map_index']}"
            for log_file in sorted(folder.glob("attempt=*.log")):
                out.append(f"    {log_file}")
                out += ["    " + line for line in _log_lines(log_file, lines)]
    if out:  # a task killed from outside (a time-out talking to the API server) says why only there
        out.append("--- the scheduler's and the API server's logs (end):\n" + server.log_tail())
    return "\n".join(out)


def print_backfill(label: str, backfill: Backfill, writes: int) -> None:
    print(f"\n{label}: backfill {backfill.id} (reprocess {backfill.reprocess_behavior}), "
          f"{len(backfill.runs)} runs in {backfill.seconds:.1f} s, {writes} CRM writes")
    print(f"  {'fiscal year':<12} {'state':<8} {'duration':>9}  data interval (UTC)                          run id")
    for run in backfill.runs:
        seconds = f"{run['seconds']:.1f} s" if run["seconds"] is not None else "-"
        interval = f"{run['data_interval_start'][:16]} .. {run['data_interval_end'][:16]}"
        print(f"  {run['fiscal_year']:<12} {run['state']:<8} {seconds:>9}  {interval:<44} {run['run_id']}")


def main(argv: list[str] | None = None) -> int:
    from hamgam_dev.demo import demo_arguments, prepare

    args = demo_arguments(__doc__, sandbox_port=0).parse_args(argv)

    from hamgam_dev.airflow_server import AirflowServer, free_port
    from pg_sandbox.testing import run_sandbox

    began = time.monotonic()
    data = args.data.resolve()
    home = data / "backfill-demo-airflow"  # its own Airflow, so `make up`'s .airflow/ keeps its runs
    shutil.rmtree(home, ignore_errors=True)
    port = args.port or free_port()
    env = {**airflow_env(data, sandbox_url=f"http://127.0.0.1:{port}", airflow_home=home), **SCHEDULER_SETTINGS,
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}  # not 8793, which `make up` uses
    print(f"hamgam backfill demo: demo Tadbir data in {data / 'demo'} (seed {args.seed}, scale {args.scale}), "
          f"Airflow in {home}")
    prepare(data, env, seed=args.seed, scale=args.scale)  # Tadbir databases, metadata DB, DAGs, CRM pool
    print(f"Prepared in {time.monotonic() - began:.1f} s.")
    print("The same backfill by hand, with `make up` running:\n  " + CLI_EQUIVALENT)

    failures: list[str] = []
    with run_sandbox(data / "sandbox.sqlite", port=port, latency_ms=args.latency_ms) as sandbox:
        print(f"Payamgostar sandbox on {sandbox.base_url} (latency {args.latency_ms} ms per CRM call)")
        server = AirflowServer(env)
        with server:
            print(f"Airflow (scheduler, DAG processor, API server on {server.base_url}) "
                  f"ready in {server.started_in:.1f} s")
            results = []
            for label, reprocess in (("First backfill", "none"), ("Second backfill, same range", "completed")):
                sandbox.reset_stats()
                print(f"\n{label}: {BY_FISCAL_YEAR} from {FROM_DATE} to {TO_DATE} (reprocess {reprocess}) ...",
                      flush=True)
                backfill = run_backfill(server, reprocess_behavior=reprocess)
                writes = sandbox.stats().get("writes", 0)
                print_backfill(label, backfill, writes)
                results.append((backfill, writes))
                if not backfill.succeeded:
                    failures.append(f"{label}: runs {[(r['fiscal_year'], r['state']) for r in backfill.runs]}")
                    print("\nTasks that did not succeed, with the end of their logs:\n"
                          + failed_task_logs(server, backfill.runs))
                    break
            stopping = time.monotonic()
        print(f"\nAirflow stopped in {time.monotonic() - stopping:.1f} s.")
    if len(results) == 2 and results[1][1]:
        failures.append(f"the second backfill made {results[1][1]} CRM writes (expected 0)")
    print(f"Total {time.monotonic() - began:.1f} s.")
    if failures:
        print("ERROR: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("OK: one run per fiscal year; the second backfill made no CRM write.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
