"""`make demo`: demo Tadbir data → the local Payamgostar sandbox through the real Airflow DAG.

Steps: build the demo Tadbir databases (one SQLite file per company), start the sandbox and the hamgam
web app (webhook intake), prepare the project's Airflow (AIRFLOW_HOME in .airflow/), run every forward
DAG through Airflow's ``dag.test()`` in dependency order; then a CRM user makes a customer and a quote
in the sandbox, whose webhooks reach the web app, and the reverse DAGs write them into Tadbir; then all
forward DAGs again (this pass must make zero CRM writes); print a summary, stop what was started.

The demo keeps to itself: the sandbox and the web app run on free ports it picks (a port given with
--port / --webapp-port must be free, else the demo stops before it starts), each with a random instance
nonce that its /health must answer with, so another server on the port (`make up`'s sandbox) is never
written to; and its files are in data/demo-run/ (Airflow's in data/demo-run/airflow/), not `make up`'s
data/ and .airflow/ — those are what ``--prepare-only`` (`make airflow-init`) prepares.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hamgam.dagbuilder import REVERSE_DAGS
from hamgam.entities import SPECS
from hamgam_dev.devenv import DEMO_WEBHOOK_SECRET, ROOT, SANDBOX_PORT, airflow_env

if TYPE_CHECKING:
    from pg_sandbox.testing import RunningSandbox

ENTITIES = tuple(SPECS)  # dependency order: identities and products first, returns after invoices
MAKE_UP_DATA = ROOT / "data"  # `make up` serves data/sandbox.sqlite (Makefile) with .airflow/ as Airflow's home
DEMO_DATA = MAKE_UP_DATA / "demo-run"  # the whole demo's own files
START_TIMEOUT_SECONDS = 30.0


def demo_dirs(data: Path | None, *, prepare_only: bool) -> tuple[Path, Path]:
    """The data directory and Airflow home: `make up`'s for --prepare-only (``make airflow-init``), the
    demo's own otherwise. A demo run on `make up`'s data directory is refused (it would wipe and write the
    sandbox database, ledger and Tadbir databases `make up` is serving)."""
    if prepare_only:
        return (data or MAKE_UP_DATA).resolve(), Path(airflow_env(MAKE_UP_DATA)["AIRFLOW_HOME"])
    data = (data or DEMO_DATA).resolve()
    if data == MAKE_UP_DATA.resolve():
        raise SystemExit(f"{data} holds the files of `make up` (its sandbox serves {data / 'sandbox.sqlite'}); "
                         f"the demo needs a directory of its own: leave out --data (default {DEMO_DATA})")
    return data, data / "airflow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def claim_port(port: int | None, what: str) -> int | None:
    """``port`` if it is free (SystemExit naming it if another server listens there); None stays None."""
    if not port:
        return None
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise SystemExit(f"port {port} for the {what} is in use by another server (`make up`?); the demo "
                             "writes only into servers it started: choose another port, or leave it out for a "
                             "free one") from None
    return port


def _airflow(env: dict[str, str], *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    result = subprocess.run(command, env={**os.environ, **env}, text=True,
                            capture_output=capture, check=False)
    if result.returncode != 0:
        tail = "\n".join(((result.stdout or "") + (result.stderr or "")).splitlines()[-40:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}:\n{tail}")
    return result


def prepare(data: Path, env: dict[str, str], *, seed: int, scale: int, pool_slots: int = 4) -> dict:
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
    _airflow(env, "pools", "set", "payamgostar_api", str(pool_slots), "Concurrent Payamgostar CRM work (hamgam)")
    return summary


def run_dags(env: dict[str, str], dag_ids: list[str]) -> dict[str, float]:
    """These DAGs, in order, in one Airflow process (dag.test); seconds per DAG run."""
    command = [sys.executable, "-m", "hamgam_dev.run_dags", *dag_ids]
    result = subprocess.run(command, env={**os.environ, **env}, text=True, capture_output=True, check=False)
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"dag_id"')]
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        failed = [r["dag_id"] for r in runs if r["state"] != "success"]
        raise SystemExit(f"DAG runs failed ({', '.join(failed) or 'see below'}):\n{tail}")
    return {r["dag_id"]: r["seconds"] for r in runs}


@contextmanager
def start_sandbox(db_path: Path, port: int | None, **settings: Any) -> Iterator[RunningSandbox]:
    """The demo's own sandbox: on ``port`` only if it is free, else on a free port; started with an instance
    nonce its health check must return (pg_sandbox.testing.run_sandbox), so it is never another server."""
    from pg_sandbox.testing import SandboxStartError, run_sandbox

    port = claim_port(port, "Payamgostar sandbox")
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(run_sandbox(db_path, port=port, **settings))
        except SandboxStartError as exc:
            raise SystemExit(f"the demo's Payamgostar sandbox did not start: {exc}") from None
        yield sandbox


@dataclass(frozen=True)
class WebApp:
    url: str
    instance: str  # the nonce its /health answers with


@contextmanager
def serve_webapp(env: dict[str, str], port: int | None) -> Iterator[WebApp]:
    """The hamgam web app (webhook intake) under plain uvicorn, as the demo has no Airflow API server: on
    ``port`` only if it is free, else on a free port, and only once its /health answers with the instance
    nonce it was started with (another server on the port is never taken for it)."""
    import requests

    port = claim_port(port, "hamgam web app") or free_port()
    instance = secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "hamgam.webapp", "--port", str(port), "--instance", instance],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        stranger = False
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                answer = requests.get(f"{url}/health", timeout=1)
                if answer.ok and answer.json().get("instance") == instance:
                    break
                stranger = True
            except (requests.RequestException, ValueError, AttributeError):
                pass
            hint = (f" (another server answers on 127.0.0.1:{port}; it was sent nothing but health checks)"
                    if stranger else "")
            if process.poll() is not None:
                raise SystemExit(f"the hamgam web app did not start{hint}:\n{process.stderr.read()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the hamgam web app did not start: no answer of its own on {url}/health within "
                                 f"{START_TIMEOUT_SECONDS:.0f} s{hint}")
            time.sleep(0.1)
        yield WebApp(url, instance)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def reverse_step(env: dict[str, str], sandbox: RunningSandbox) -> dict[str, Any]:
    """A CRM user makes a customer and a quote; their webhooks reach hamgam; the reverse DAGs run."""
    from hamgam_dev.demo_crm_user import make_customer_and_quote

    made = make_customer_and_quote(sandbox.base_url)
    print(f"In the CRM, a salesperson made customer {made.customer_number} and quote {made.quote_number}; "
          "waiting for their webhooks ...")
    sandbox.flush_webhooks(60)
    started = time.monotonic()
    timings = run_dags(env, list(REVERSE_DAGS.values()))
    return {"made": made, "timings": timings, "seconds": time.monotonic() - started,
            "webhooks": sandbox.stats().get("webhooks", {})}


def demo_arguments(doc: str | None, *, sandbox_port: int, data: Path | None = ROOT / "data",
                   data_help: str = "where demo files go (default: data/)") -> argparse.ArgumentParser:
    """The options the demos share: where the data goes, its seed and scale, the sandbox's latency and port."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=data, help=data_help)
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--scale", type=int, default=1, help="multiplies the demo's record counts")
    parser.add_argument("--latency-ms", type=int, default=5, help="sandbox latency added to every CRM call")
    parser.add_argument("--port", type=int, default=sandbox_port,
                        help="sandbox port" + (" (default: a free one)" if not sandbox_port else ""))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = demo_arguments(__doc__, sandbox_port=0, data=None, data_help=(
        f"where demo files go (default: {DEMO_DATA.relative_to(ROOT)}/; with --prepare-only, data/: make up's)"))
    parser.add_argument("--webapp-port", type=int, default=0,
                        help="port of the hamgam web app (webhooks) (default: a free one)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="build data and Airflow state for `make up` (data/, .airflow/), run nothing")
    args = parser.parse_args(argv)

    data, airflow_home = demo_dirs(args.data, prepare_only=args.prepare_only)
    if not args.prepare_only:  # before anything is built: a busy port stops the demo at once
        claim_port(args.port, "Payamgostar sandbox")
        claim_port(args.webapp_port, "hamgam web app")
    print(f"hamgam demo: building demo Tadbir data in {data / 'demo'} (seed {args.seed}, scale {args.scale})")
    built = prepare(data, airflow_env(data, airflow_home=airflow_home), seed=args.seed, scale=args.scale)
    if args.prepare_only:
        print("Prepared. Start the sandbox with: .venv/bin/python -m pg_sandbox "
              f"--port {args.port or SANDBOX_PORT} --db {data / 'sandbox.sqlite'}")
        return 0

    forward = [f"tadbir_to_payamgostar__{e}" for e in ENTITIES]
    with start_sandbox(data / "sandbox.sqlite", args.port, latency_ms=args.latency_ms) as sandbox:
        env = airflow_env(data, sandbox_url=sandbox.base_url, airflow_home=airflow_home)
        os.environ.update(env)  # the summary reads the same connections as the DAG
        with serve_webapp(env, args.webapp_port) as webapp:
            records, reverse, first_stats, second_stats, timings = _run(env, sandbox, webapp.url, forward,
                                                                         args.latency_ms)
    from hamgam_dev.demo_report import print_report

    print_report(built=built, timings=timings, first=first_stats, second=second_stats, records=records,
                 entities=ENTITIES, latency_ms=args.latency_ms, reverse=reverse)
    if second_stats.get("writes", 0):
        print("ERROR: the second run over unchanged data wrote to the CRM", file=sys.stderr)
        return 1
    return 0


def _run(env: dict[str, str], sandbox: RunningSandbox, webapp: str, forward: list[str], latency_ms: int) -> tuple:
    """The demo's DAG runs against its own sandbox and web app: records, reverse step, CRM stats, timings."""
    hooks = f"?token={DEMO_WEBHOOK_SECRET}"
    sandbox.set_faults(webhook_identity_url=f"{webapp}/api/sync/customer{hooks}",
                       webhook_quote_url=f"{webapp}/api/sync/salequote{hooks}")
    print(f"Payamgostar sandbox on {sandbox.base_url} (latency {latency_ms} ms per call); "
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
    return sandbox.records(), reverse, first_stats, sandbox.stats(), timings


if __name__ == "__main__":
    raise SystemExit(main())
