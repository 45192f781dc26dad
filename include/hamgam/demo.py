"""`make demo`: demo Tadbir data → the local Payamgostar sandbox through the real Airflow DAG.

Steps: build the demo Tadbir databases (one SQLite file per company), start the sandbox and the hamgam
web app (webhook intake), prepare the project's Airflow (AIRFLOW_HOME in .airflow/), run every forward
DAG through Airflow's ``dag.test()`` in dependency order; then a CRM user makes a customer and a quote
in the sandbox, whose webhooks reach the web app, and the reverse DAGs write them into Tadbir; then all
forward DAGs again (this pass must make zero CRM writes); print a summary, stop what was started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hamgam.dagbuilder import REVERSE_DAGS
from hamgam.devenv import DEMO_WEBHOOK_SECRET, ROOT, airflow_env
from hamgam.entities import SPECS

if TYPE_CHECKING:
    from pg_sandbox.testing import RunningSandbox

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


def run_dags(env: dict[str, str], dag_ids: list[str]) -> dict[str, float]:
    """These DAGs, in order, in one Airflow process (dag.test); seconds per DAG run."""
    command = [sys.executable, "-m", "hamgam.run_dags", *dag_ids]
    result = subprocess.run(command, env={**os.environ, **env}, text=True, capture_output=True, check=False)
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"dag_id"')]
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        failed = [r["dag_id"] for r in runs if r["state"] != "success"]
        raise SystemExit(f"DAG runs failed ({', '.join(failed) or 'see below'}):\n{tail}")
    return {r["dag_id"]: r["seconds"] for r in runs}


@contextmanager
def serve_webapp(env: dict[str, str], port: int) -> Iterator[str]:
    """The hamgam web app (webhook intake) under plain uvicorn, as the demo has no Airflow API server."""
    import requests

    process = subprocess.Popen([sys.executable, "-m", "hamgam.webapp", "--port", str(port)],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None:
                raise SystemExit(f"the hamgam web app did not start:\n{process.stderr.read()[-3000:]}")
            time.sleep(0.2)
        else:
            raise SystemExit("the hamgam web app did not answer on /health within 20 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def reverse_step(env: dict[str, str], sandbox: RunningSandbox) -> dict[str, Any]:
    """A CRM user makes a customer and a quote; their webhooks reach hamgam; the reverse DAGs run."""
    from hamgam.demo_crm_user import make_customer_and_quote

    made = make_customer_and_quote(sandbox.base_url)
    print(f"In the CRM, a salesperson made customer {made.customer_number} and quote {made.quote_number}; "
          "waiting for their webhooks ...")
    sandbox.flush_webhooks(60)
    started = time.monotonic()
    timings = run_dags(env, list(REVERSE_DAGS.values()))
    return {"made": made, "timings": timings, "seconds": time.monotonic() - started,
            "webhooks": sandbox.stats().get("webhooks", {})}


def demo_arguments(doc: str | None, *, sandbox_port: int) -> argparse.ArgumentParser:
    """The options the demos share: where the data goes, its seed and scale, the sandbox's latency and port."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="where demo files go (default: data/)")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--scale", type=int, default=1, help="multiplies the demo's record counts")
    parser.add_argument("--latency-ms", type=int, default=5, help="sandbox latency added to every CRM call")
    parser.add_argument("--port", type=int, default=sandbox_port,
                        help="sandbox port" + (" (default: a free one)" if not sandbox_port else ""))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = demo_arguments(__doc__, sandbox_port=8765)
    parser.add_argument("--webapp-port", type=int, default=8790, help="port of the hamgam web app (webhooks)")
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
    forward = [f"tadbir_to_payamgostar__{e}" for e in ENTITIES]
    with run_sandbox(data / "sandbox.sqlite", port=args.port, latency_ms=args.latency_ms) as sandbox, \
            serve_webapp(env, args.webapp_port) as webapp:
        hooks = f"?token={DEMO_WEBHOOK_SECRET}"
        sandbox.set_faults(webhook_identity_url=f"{webapp}/api/sync/customer{hooks}",
                           webhook_quote_url=f"{webapp}/api/sync/salequote{hooks}")
        print(f"Payamgostar sandbox on {sandbox.base_url} (latency {args.latency_ms} ms per call); "
              f"browse {sandbox.base_url}/_sandbox/. Its webhooks go to the hamgam web app on {webapp}.")
        print(f"Running {len(ENTITIES)} DAGs through Airflow (dag.test), in dependency order: "
              f"{', '.join(ENTITIES)} ...")
        timings = {dag_id.split("__", 1)[1]: s for dag_id, s in run_dags(env, forward).items()}
        first_stats = sandbox.stats()
        print("The CRM's webhooks for hamgam's own writes came back; the reverse DAGs recognise them ...")
        reverse = reverse_step(env, sandbox)
        sandbox.reset_stats()
        print("Running every forward DAG again: nothing changed in Tadbir except what came from the CRM ...")
        run_dags(env, forward)
        second_stats = sandbox.stats()
        records = sandbox.records()
    from hamgam.demo_report import print_report

    print_report(built=built, timings=timings, first=first_stats, second=second_stats, records=records,
                 entities=ENTITIES, latency_ms=args.latency_ms, reverse=reverse)
    if second_stats.get("writes", 0):
        print("ERROR: the second run over unchanged data wrote to the CRM", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
