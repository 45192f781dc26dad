"""`make demo`: demo Tadbir data → the local Payamgostar sandbox through the real Airflow DAG.

Steps: build the demo Tadbir databases (one SQLite file per company), start the sandbox, prepare the
project's Airflow (AIRFLOW_HOME in .airflow/), run every forward DAG through Airflow's ``dag.test()``
in dependency order, then all of them again (the second pass must make zero CRM writes), print a
summary per entity and company, stop what was started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from hamgam.devenv import ROOT, airflow_env
from hamgam.entities import SPECS

ENTITIES = tuple(SPECS)  # dependency order: identities and products first, returns after invoices


def _airflow(env: dict[str, str], *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    result = subprocess.run(command, env={**os.environ, **env}, text=True,
                            capture_output=capture, check=False)
    if result.returncode != 0:
        tail = "\n".join(((result.stdout or "") + (result.stderr or "")).splitlines()[-40:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}:\n{tail}")
    return result


def prepare(data: Path, env: dict[str, str], *, seed: int, scale: int) -> dict:
    """Fresh demo state: Tadbir databases, an empty ledger, Airflow's metadata database and pool."""
    from tadbir_demo import build_demo

    for stale in ("hamgam_state.sqlite", "sandbox.sqlite"):
        for path in data.glob(stale + "*"):
            path.unlink()
    data.mkdir(parents=True, exist_ok=True)
    summary = build_demo(data / "demo", seed=seed, scale=scale)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")  # `airflow dags list` shows the DAGs before any run
    _airflow(env, "pools", "set", "payamgostar_api", "4", "Concurrent Payamgostar CRM work (hamgam)")
    return summary


def run_dags(env: dict[str, str], entities: tuple[str, ...]) -> dict[str, float]:
    """Every entity's forward DAG, in order, in one Airflow process; seconds per DAG run."""
    command = [sys.executable, "-m", "hamgam.run_dags", *(f"tadbir_to_payamgostar__{e}" for e in entities)]
    result = subprocess.run(command, env={**os.environ, **env}, text=True, capture_output=True, check=False)
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"dag_id"')]
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        failed = [r["dag_id"] for r in runs if r["state"] != "success"]
        raise SystemExit(f"DAG runs failed ({', '.join(failed) or 'see below'}):\n{tail}")
    return {r["dag_id"].split("__", 1)[1]: r["seconds"] for r in runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="where demo files go (default: data/)")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--scale", type=int, default=1, help="multiplies the demo's record counts")
    parser.add_argument("--latency-ms", type=int, default=5, help="sandbox latency added to every CRM call")
    parser.add_argument("--port", type=int, default=8765, help="sandbox port")
    parser.add_argument("--prepare-only", action="store_true", help="build data and Airflow state, run nothing")
    args = parser.parse_args(argv)

    from pg_sandbox.testing import run_sandbox

    data = args.data.resolve()
    sandbox_url = f"http://127.0.0.1:{args.port}"
    env = airflow_env(data, sandbox_url=sandbox_url)
    print(f"hamgam demo: building demo Tadbir data in {data / 'demo'} (seed {args.seed}, scale {args.scale})")
    built = prepare(data, env, seed=args.seed, scale=args.scale)
    if args.prepare_only:
        print("Prepared. Start the sandbox with: .venv/bin/python -m pg_sandbox "
              f"--port {args.port} --db {data / 'sandbox.sqlite'}")
        return 0

    os.environ.update(env)  # the summary reads the same connections as the DAG
    with run_sandbox(data / "sandbox.sqlite", port=args.port, latency_ms=args.latency_ms) as sandbox:
        print(f"Payamgostar sandbox on {sandbox.base_url} (latency {args.latency_ms} ms per call); "
              f"browse {sandbox.base_url}/_sandbox/")
        print(f"Running {len(ENTITIES)} DAGs through Airflow (dag.test), in dependency order: "
              f"{', '.join(ENTITIES)} ...")
        timings = run_dags(env, ENTITIES)
        first_stats = sandbox.stats()
        sandbox.reset_stats()
        print("Running every DAG again over unchanged data ...")
        run_dags(env, ENTITIES)
        second_stats = sandbox.stats()
        records = sandbox.records()
    from hamgam.demo_report import print_report

    print_report(built=built, timings=timings, first=first_stats, second=second_stats, records=records,
                 entities=ENTITIES, latency_ms=args.latency_ms)
    if second_stats.get("writes", 0):
        print("ERROR: the second run over unchanged data wrote to the CRM", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
