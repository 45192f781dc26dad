"""``hamgam check`` put together: the settings and connections the DAGs use, every check, one report."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hamgam.check.crm import CrmChecks
from hamgam.check.report import CompanyReport, Row, as_json, as_text, exit_code, scrub
from hamgam.check.tadbir import TadbirChecks
from hamgam.check.webhooks import webapp_base_url, webhook_rows
from hamgam.settings import HamgamConfig

if TYPE_CHECKING:
    import sqlalchemy as sa

    from hamgam.payamgostar.client import PayamgostarClient

CRM_ATTEMPTS = 2  # a check should answer soon: one retry for a passing hiccup, not the DAGs' five


@dataclass(frozen=True)
class Sources:
    """Where the checks get their connections (the DAGs' own by default; tests may give others)."""

    engine_for: Callable[[str], sa.Engine]
    crm: Callable[[], PayamgostarClient]
    webhook_secret: Callable[[], str | None]
    secrets: Callable[[], list[str]]  # every password the texts must never show


def airflow_sources(config: HamgamConfig) -> Sources:
    """The Airflow connections the DAGs use: Tadbir per company, the CRM hook, the webhook secret."""
    from airflow.sdk import BaseHook

    from hamgam import connections
    from hamgam.payamgostar.hook import PayamgostarHook
    from hamgam.webapp.events import WEBHOOK_CONN_ID

    def password(conn_id: str) -> str | None:
        try:
            return BaseHook.get_connection(conn_id).password or None
        except Exception:  # not defined: nothing to hide
            return None

    def secrets() -> list[str]:
        ids = {c.tadbir_conn_id for c in config.companies} | {config.sync.crm_conn_id, WEBHOOK_CONN_ID}
        return [p for p in map(password, sorted(ids)) if p]

    return Sources(engine_for=lambda conn_id: connections.engine_for(conn_id, config),
                   crm=lambda: PayamgostarHook(config.sync.crm_conn_id, max_attempts=CRM_ATTEMPTS).get_conn(),
                   webhook_secret=lambda: BaseHook.get_connection(WEBHOOK_CONN_ID).password or None,
                   secrets=secrets)


def run_checks(config: HamgamConfig, sources: Sources, *, webapp_url: str | None = None,
               companies: list[int] | None = None) -> list[CompanyReport]:
    """The shared table (CRM login, webhooks), then one table per (enabled, or chosen) company."""
    crm = CrmChecks(config, sources.crm)
    try:
        shared = CompanyReport(None, f"CRM ({config.sync.crm_conn_id}) and web app, all companies",
                               crm.login_rows() + webhook_rows(config, webapp_base_url(webapp_url),
                                                               sources.webhook_secret))
        reports = [shared]
        for company in config.companies:
            if (companies and company.code not in companies) or (not companies and not company.enabled):
                continue
            rows = TadbirChecks(config, company, sources.engine_for).rows()
            rows += [row for row in crm.rows(company) if row not in shared.rows]
            reports.append(CompanyReport(company.code, company.name, rows))
    finally:
        crm.close()
    hidden = sources.secrets()
    for report in reports:
        report.rows = [Row(r.status, r.check, scrub(r.found, hidden), scrub(r.fix, hidden)) for r in report.rows]
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hamgam check", description=__doc__)
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document instead of the tables")
    parser.add_argument("--company", type=int, action="append", help="only this company (repeatable)")
    parser.add_argument("--webapp-url", help="where the CRM reaches the hamgam web app, e.g. "
                        "https://airflow.example.com/hamgam (default: HAMGAM_WEBAPP_URL, else Airflow's "
                        "[api] base_url + /hamgam)")


def run_command(args: argparse.Namespace) -> int:
    # the rows say what happened; hamgam's own log lines (a login, a retry) would land on stdout, where
    # Airflow's logging writes, in the middle of the table or the JSON (restored after: tests and the
    # connection form's Test button call this in a process that goes on)
    logger = logging.getLogger("hamgam")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return _run(args)
    finally:
        logger.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    from hamgam.config import ConfigError, config_path, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        print(f"hamgam check: the settings cannot be read: {exc}", file=sys.stderr)
        return 1
    unknown = sorted(set(args.company or ()) - {c.code for c in config.companies})
    if unknown:
        print(f"hamgam check: company {unknown} is not in {config_path()}", file=sys.stderr)
        return 1
    reports = run_checks(config, airflow_sources(config), webapp_url=args.webapp_url, companies=args.company)
    print(as_json(reports) if args.json else as_text(reports))
    return exit_code(reports)
