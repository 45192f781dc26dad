"""``python -m hamgam migrate``: the ledger's schema brought to the latest revision, as an explicit deployment step.

The DAGs also migrate on first use (``Ledger.connect``); a deployment runs this once per upgrade instead, so a
schema change happens before any task runs, under the operator's eyes, with the revision before and after
printed. The ledger is the database of the Airflow connection ``sync.state_conn_id`` (``hamgam_state``).
"""

from __future__ import annotations

import argparse
import sys

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, make_url
from sqlalchemy.exc import OperationalError

from hamgam.ledger.db import make_engine
from hamgam.ledger.migrate import alembic_config, upgrade


def current_revision(url: str | URL) -> str | None:
    """The ledger's revision at ``url`` (None: no hamgam schema yet)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the ledger's migrations have no head"
    return head


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conn-id", help="the ledger's Airflow connection (default: the settings' sync.state_conn_id)")


def run_command(args: argparse.Namespace) -> int:
    from airflow.exceptions import AirflowNotFoundException

    from hamgam.config import load_config
    from hamgam.connections import sqlalchemy_url

    conn_id = args.conn_id or load_config().sync.state_conn_id
    try:
        url = sqlalchemy_url(conn_id)
    except AirflowNotFoundException:
        print(f"hamgam migrate: the Airflow connection {conn_id!r} (the ledger) is not defined "
              f"(set AIRFLOW_CONN_{conn_id.upper()} or add it to Airflow)", file=sys.stderr)
        return 1
    where = make_url(url).render_as_string(hide_password=True)
    try:
        before = current_revision(url)
        print(f"ledger ({conn_id}, {where}): revision {before or 'none'}, latest {head_revision()}", flush=True)
        upgrade(url)
        after = current_revision(url)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        print(f"hamgam migrate: cannot reach the ledger ({conn_id}, {where}): {reason}", file=sys.stderr)
        return 1
    print(f"ledger ({conn_id}): revision {after}" + (" (unchanged)" if after == before else f" (was {before or 'none'})"))
    return 0
