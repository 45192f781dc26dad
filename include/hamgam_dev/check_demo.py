"""`make check`: ``python -m hamgam check`` against the demo world, as `make demo` sets it up.

Builds the demo Tadbir databases (companies 100 and 200) in data/check-run/, starts the Payamgostar sandbox
on a free port (only a server answering with its own instance nonce counts), runs the check with the demo's
connections as environment variables (``hamgam_dev.devenv``), stops the sandbox and exits with the check's
code. Arguments after ``--`` go to the check (``make check CHECK_ARGS="--json"``). Touches none of `make up`'s
or `make demo`'s files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from hamgam_dev.devenv import ROOT, airflow_env

CHECK_DATA = ROOT / "data" / "check-run"
DEMO_WEBAPP_URL = "http://127.0.0.1:8080/hamgam"  # `make up`'s Airflow API server, where the plugin serves it


def check_env(data: Path, sandbox_url: str) -> dict[str, str]:
    """The demo's connections and settings, as the DAGs of `make demo` get them."""
    env = airflow_env(data, sandbox_url=sandbox_url, airflow_home=data / "airflow")
    env.setdefault("HAMGAM_WEBAPP_URL", os.environ.get("HAMGAM_WEBAPP_URL", DEMO_WEBAPP_URL))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CHECK_DATA, help=f"where the demo world goes (default "
                        f"{CHECK_DATA.relative_to(ROOT)}/)")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("check_args", nargs="*", help="arguments of `python -m hamgam check` (after --)")
    args = parser.parse_args(argv)

    from pg_sandbox.testing import SandboxStartError, run_sandbox
    from tadbir_demo import build_demo

    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    (data / "sandbox.sqlite").unlink(missing_ok=True)
    build_demo(data / "demo", seed=args.seed)
    try:
        with run_sandbox(data / "sandbox.sqlite") as sandbox:
            env = {**os.environ, **check_env(data, sandbox.base_url)}
            print(f"hamgam check on the demo world: Tadbir in {data / 'demo'}, sandbox on {sandbox.base_url}",
                  flush=True)
            return subprocess.run([sys.executable, "-m", "hamgam", "check", *args.check_args], env=env,
                                  check=False).returncode
    except SandboxStartError as exc:
        print(f"the Payamgostar sandbox did not start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
