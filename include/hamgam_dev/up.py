"""`make up`: the Payamgostar sandbox and a real Airflow over the demo data, until Ctrl-C.

    python -m hamgam_dev.up [--port 8080] [--sandbox-port 8765] [--reset] [--prepare-only]

Airflow runs as components (scheduler, DAG processor, triggerer, API server: hamgam_dev.airflow_server
.AirflowServer) in a process group of their own; a mail sink (hamgam_dev.mail_sink, on a free port, Airflow's
`smtp_default`) keeps the alert e-mails as `.eml` files in `<data>/mail/`; the sandbox (pg_sandbox) serves `data/sandbox.sqlite` and
sends its webhooks to the hamgam web app inside the API server. Both bind 127.0.0.1. Once Airflow is healthy
it prints the UI's address and the admin login. SIGINT (Ctrl-C) or SIGTERM stops all it started, Airflow's
whole process group included, and it exits 0; if the sandbox or Airflow dies on its own, it stops the rest
and exits 1.

**State.** The demo Tadbir databases, the ledger (`hamgam_state.sqlite`) and the sandbox's CRM records
(`sandbox.sqlite`) under `--data`, and Airflow's metadata database (runs, pause states) in `--airflow-home`,
describe one world: a run Airflow remembers has its records in the ledger and the CRM. So they are kept
together or reset together. By default a restart keeps all of them. `--reset` (`make up RESET=1`) builds a
fresh world: new Tadbir databases, no ledger, no CRM records, a new Airflow metadata database (every DAG
paused again, no runs; the admin password file is kept). The first start, or a start that finds one part
missing (say data/ was deleted but .airflow/ kept), resets all of them too, and says why. The marker
file `<data>/make-up.json` records that the world was prepared with that Airflow home.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from hamgam_dev.devenv import DEMO_WEBHOOK_SECRET, ROOT, SANDBOX_PORT, airflow_env

MARKER = "make-up.json"
LEDGER = "hamgam_state.sqlite"
SANDBOX_DB = "sandbox.sqlite"
DATA = ROOT / "data"  # the default --data: the demo Tadbir, the ledger and the sandbox's CRM records
MAIL = "mail"  # <data>/mail/: the alert e-mails Airflow sends, one .eml each (hamgam_dev.mail_sink)
# the sandbox's webhooks: the hamgam web app inside the API server (the routes docker-compose.yaml's sandbox uses too)
WEBHOOK_URL = "http://127.0.0.1:{port}/hamgam/api/sync/{kind}?token=" + DEMO_WEBHOOK_SECRET
COMPANIES = (100, 200)  # the demo's Tadbir databases: demo/tadbir_<code>.sqlite
CRM_POOL_SLOTS = 4


def world_files(data: Path, home: Path) -> dict[str, Path]:
    """The files one `make up` world consists of (the marker, written last, says they belong together)."""
    files = {"marker": data / MARKER, "ledger": data / LEDGER, "airflow metadata": home / "airflow.db"}
    files.update({f"Tadbir {code}": data / "demo" / f"tadbir_{code}.sqlite" for code in COMPANIES})
    return files


def why_reset(data: Path, home: Path) -> str | None:
    """Why the world under data/ and home cannot be kept (None: it can)."""
    files = world_files(data, home)
    if not any(path.exists() for path in files.values()):
        return "first start"
    missing = [f"{name} ({path})" for name, path in files.items() if not path.exists()]
    if missing:
        return "missing: " + ", ".join(missing)
    marker = json.loads(files["marker"].read_text())
    if marker.get("airflow_home") != str(home):
        return f"{data} was prepared with the Airflow home {marker.get('airflow_home')}, not {home}"
    if marker.get("sandbox_served") and not (data / SANDBOX_DB).exists():
        return f"missing: the sandbox's CRM records ({data / SANDBOX_DB})"
    return None


def reset_world(data: Path, home: Path, env: dict[str, str], *, seed: int, scale: int) -> None:
    """A fresh world: Tadbir databases, an empty ledger and CRM, a new Airflow metadata database."""
    from hamgam.ledger.store import Ledger
    from hamgam_dev.demo import prepare

    for path in [data / MARKER, *home.glob("airflow.db*")]:
        path.unlink(missing_ok=True)
    prepare(data, env, seed=seed, scale=scale)  # Tadbir, no ledger or sandbox files, db migrate, the pool
    Ledger.connect(f"sqlite:///{data / LEDGER}").dispose()  # the ledger's tables, so the world is complete
    write_marker(data, home, sandbox_served=False)


def write_marker(data: Path, home: Path, *, sandbox_served: bool) -> None:
    (data / MARKER).write_text(json.dumps({"airflow_home": str(home), "sandbox_served": sandbox_served}))


def busy_ports(*ports: int) -> list[int]:
    """Those of `ports` another server listens on (127.0.0.1), e.g. a `make up` already running."""
    busy = []
    for port in ports:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080, help="Airflow's UI and API (default 8080)")
    parser.add_argument("--sandbox-port", type=int, default=SANDBOX_PORT, help="the sandbox (default 8765)")
    parser.add_argument("--data", type=Path, default=DATA, help="Tadbir, ledger, sandbox (default data/)")
    parser.add_argument("--airflow-home", type=Path, default=ROOT / ".airflow", help="default .airflow/")
    parser.add_argument("--reset", action="store_true", help="a fresh world: Tadbir, ledger, CRM and Airflow")
    parser.add_argument("--prepare-only", action="store_true", help="prepare (or keep) the world, start nothing")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=5, help="sandbox latency added to every CRM call")
    return parser.parse_args(argv)


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def _stop_on_signals() -> None:
    def handler(signum: int, frame: object) -> None:
        # later signals change nothing: the stop under way ends everything within seconds
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data, home = args.data.resolve(), args.airflow_home.resolve()
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    from hamgam_dev.mail_sink import MailSink

    mail = MailSink(data / MAIL)  # on a free port: Airflow's smtp_default connection points at it
    env = airflow_env(data, sandbox_url=sandbox_url, airflow_home=home, smtp_port=mail.port)
    began = time.monotonic()
    if not args.prepare_only and (busy := busy_ports(args.port, args.sandbox_port)):
        # before anything is touched: a `make up` already serving this world must not see it reset
        print(f"hamgam up: port {', '.join(map(str, busy))} in use (another `make up`?); nothing changed. "
              "Stop it, or choose other ports: --port, --sandbox-port", file=sys.stderr)
        return 1
    reason = "--reset" if args.reset else why_reset(data, home)
    if reason:
        print(f"hamgam up: a fresh world ({reason}): demo Tadbir in {data / 'demo'}, empty ledger and CRM, "
              f"new Airflow metadata in {home}", flush=True)
        reset_world(data, home, env, seed=args.seed, scale=args.scale)
    else:
        print(f"hamgam up: keeping the world in {data} and {home} (Tadbir, ledger, CRM records, Airflow runs "
              "and pause states); `make up RESET=1` starts afresh", flush=True)
    if args.prepare_only:
        return 0

    from hamgam_dev.airflow_server import AirflowServer, AirflowServerError
    from pg_sandbox.testing import SandboxStartError, run_sandbox

    _stop_on_signals()
    server = AirflowServer(env, port=args.port)
    try:
        with ExitStack() as stack:
            sandbox = stack.enter_context(run_sandbox(
                data / SANDBOX_DB, port=args.sandbox_port, latency_ms=args.latency_ms,
                webhook_identity_url=WEBHOOK_URL.format(port=args.port, kind="customer"),
                webhook_quote_url=WEBHOOK_URL.format(port=args.port, kind="salequote")))
            write_marker(data, home, sandbox_served=True)
            stack.enter_context(mail)
            print(f"hamgam up: alert e-mails are kept in {mail.folder}/ (one .eml per message; SMTP on "
                  f"127.0.0.1:{mail.port})", flush=True)
            print(f"hamgam up: Payamgostar sandbox on {sandbox.base_url}/_sandbox/; starting Airflow "
                  f"(logs in {server.log_dir}) ...", flush=True)
            stack.callback(server.stop)
            server.start()
            user, password = server.admin_password()
            print(f"hamgam up: Airflow UI on {server.base_url} (healthy after {time.monotonic() - began:.0f} s); "
                  f"log in as {user} / {password}\n"
                  "hamgam up: unpause a DAG and trigger it, or backfill fiscal years; Ctrl-C stops everything",
                  flush=True)
            return _serve(server, sandbox.process)
    except Stop as stop:
        print(f"hamgam up: {stop} received; everything stopped", flush=True)
        return 0
    except (AirflowServerError, SandboxStartError) as exc:
        print(f"hamgam up: {exc}", file=sys.stderr, flush=True)
        return 1


def _serve(server, sandbox_process) -> int:
    """Wait for a signal (raises Stop); returns 1 when the sandbox or Airflow ends on its own."""
    idle = threading.Event()  # never set: a wait the signal handler interrupts
    while True:
        if sandbox_process.poll() is not None:
            print(f"hamgam up: the sandbox exited with {sandbox_process.returncode}; stopping", file=sys.stderr)
            return 1
        if server.leader is not None and server.leader.poll() is not None:
            print(f"hamgam up: Airflow exited with {server.leader.returncode}; stopping\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
        idle.wait(1.0)


if __name__ == "__main__":
    raise SystemExit(main())
