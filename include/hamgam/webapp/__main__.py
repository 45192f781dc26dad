"""Serve the hamgam web app with plain uvicorn, without Airflow (the demo): ``python -m hamgam.webapp``.

The secret, the ledger and the Tadbir databases come from the same ``AIRFLOW_CONN_*`` environment
variables the demo's Airflow uses (``hamgam_dev.devenv.airflow_env``; the secret from
``AIRFLOW_CONN_HAMGAM_WEBHOOK``). There is no Airflow to notify, so webhooks are stored and logged only;
the reverse DAGs' scheduled sweep picks them up. uvicorn's own access log is replaced by one that masks
the ``token`` query parameter and a webhook's secret path segment (``/api/sync/***/customer``).
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hamgam.webapp.api import mask_path

log = logging.getLogger("hamgam.webapp.access")

SECRET_PARAMS = frozenset({"token"})


def mask_query(query: str) -> str:
    """The query string with the value of every secret parameter replaced by ``***``."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs])


class MaskedAccessLog:
    """ASGI middleware: one log line per request, with the secret masked (query and path)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 0

        async def capture(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            query = mask_query(scope.get("query_string", b"").decode("latin-1"))
            client = scope.get("client") or ("?", 0)
            path = mask_path(str(scope.get("path", "")))  # the app masks it too (MaskPathSecret); to be sure
            log.info('%s "%s %s%s" %s %.0f ms', client[0], scope.get("method"), path,
                     f"?{query}" if query else "", status or 500, (time.monotonic() - started) * 1000)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from hamgam.webapp.api import create_app
    from hamgam.webapp.notify import log_only

    parser = argparse.ArgumentParser(prog="python -m hamgam.webapp", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--instance", default=None,
                        help="a nonce /health answers with, so whoever started the app knows it is talking to it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = MaskedAccessLog(create_app(notify=log_only, instance=args.instance))
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level=args.log_level)


if __name__ == "__main__":
    main()
