"""The webhook URLs to give the CRM (one per reverse flow that is on), from the web app's base URL and its
route names (``hamgam.webapp.api``), with the shared secret shown as ``****``; and whether that secret is set.

The base URL is where the CRM reaches the web app: the Airflow API server's address plus the plugin's
``/hamgam`` prefix (``--webapp-url`` or ``HAMGAM_WEBAPP_URL``; else ``[api] base_url`` of Airflow's settings).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from hamgam.check.report import MASK, Row, fail, ok, warn
from hamgam.settings import HamgamConfig

PLUGIN_PREFIX = "/hamgam"  # plugins/hamgam_plugin.py mounts the web app here


def webapp_base_url(given: str | None = None) -> str | None:
    if given:
        return given.rstrip("/")
    if os.environ.get("HAMGAM_WEBAPP_URL"):
        return os.environ["HAMGAM_WEBAPP_URL"].rstrip("/")
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # Airflow's settings cannot be read here
        base = ""
    return base.rstrip("/") + PLUGIN_PREFIX if base else None


def webhook_sources(config: HamgamConfig) -> list[str]:
    """The webhook sources whose reverse flow is on (``reverse.<flow>.enabled``)."""
    from hamgam.reverse.specs import REVERSE_SPECS

    return [source for source, spec in REVERSE_SPECS.items() if spec.switch(config).enabled]


def route_paths(sources: list[str]) -> dict[str, str]:
    """Each source's route path in the web app, by its route name (``webhook_<source>``)."""
    from hamgam.webapp.api import create_app

    app = create_app()
    return {source: app.url_path_for(f"webhook_{source}") for source in sources}


def webhook_rows(config: HamgamConfig, base_url: str | None, secret: Callable[[], str | None]) -> list[Row]:
    sources = webhook_sources(config)
    if not sources:
        return [ok("webhooks", "no reverse flow is on: the CRM needs no webhook")]
    from hamgam.webapp.events import WEBHOOK_CONN_ID

    rows = []
    check = f"webhooks: shared secret ({WEBHOOK_CONN_ID})"
    try:
        has_secret = bool(secret())
        problem = "" if has_secret else "the connection has no password"
    except Exception as exc:  # the connection is not defined
        has_secret, problem = False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if has_secret:
        rows.append(ok(check, f"set ({MASK})"))
    else:
        rows.append(fail(check, problem, f"define the Airflow connection {WEBHOOK_CONN_ID!r} with the shared "
                                         "secret as its password: every webhook is refused without it"))
    paths = route_paths(sources)
    for source in sources:
        check = f"webhooks: {source} URL for the CRM"
        if base_url is None:
            rows.append(warn(check, f"<web app base URL>{paths[source]}?token={MASK}",
                             "pass --webapp-url (or set HAMGAM_WEBAPP_URL) to the address the CRM reaches the "
                             "Airflow API server at, plus /hamgam"))
        else:
            rows.append(ok(check, f"{base_url}{paths[source]}?token={MASK}"))
    return rows
