"""Airflow's task-log server bound to one address (127.0.0.1 by default) instead of every interface.

Airflow 3.3 has no host setting for the log servers its scheduler (LocalExecutor), triggerer and Celery
workers start: ``airflow.utils.serve_logs.core.serve_logs`` always binds ``[::]`` / ``0.0.0.0`` on
``[logging] worker_log_server_port`` (``trigger_log_server_port`` for the triggerer). So
hamgam_dev.airflow_server starts those components with ``--skip-serve-logs`` and runs Airflow's own log
app through this module on the same port, on the address it is told:

    python -m hamgam_dev.log_server --port 8793 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import uvicorn
    from setproctitle import setproctitle

    setproctitle(f"airflow serve-logs {args.host}:{args.port}")
    # the same app and options as Airflow's serve_logs, only the address differs
    uvicorn.run("airflow.utils.serve_logs.log_server:get_app", factory=True, host=args.host, port=args.port,
                log_level="warning", log_config=None, access_log=False)


if __name__ == "__main__":
    main()
