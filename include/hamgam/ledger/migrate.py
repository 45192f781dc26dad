"""Programmatic ``alembic upgrade head`` for the ledger, with no alembic.ini on disk.

Safe to call on every run: at head it does nothing; concurrent callers queue on a lock (see
``migrations/env.py``) and the later ones find nothing to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from hamgam.ledger.db import normalize_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL) -> Config:
    """An Alembic config for the ledger database at ``url`` (for ``alembic.command`` functions)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolates "%": escape it (URL-encoded passwords contain it)
    plain = normalize_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", plain.replace("%", "%%"))
    return config


def upgrade(url: str | URL) -> None:
    """Bring the ledger database at ``url`` to the latest schema."""
    command.upgrade(alembic_config(url), "head")
