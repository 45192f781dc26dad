"""A company's Tadbir whose assumed tables are named the site's way: a copy of the demo database with a table
renamed, a column renamed or a table dropped, and settings (``HAMGAM_CONFIG``) that say so or not."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from hamgam.config import DEFAULT_CONFIG


def copy_of(database: Path, into: Path, *statements: str) -> Path:
    """A copy of the demo ``database`` in ``into`` with ``statements`` run on it."""
    into.mkdir(parents=True, exist_ok=True)
    copy = into / database.name
    shutil.copyfile(database, copy)
    with sqlite3.connect(copy) as conn:
        for statement in statements:
            conn.execute(statement)
    return copy


def settings_file(path: Path, **company_100: Any) -> Path:
    """The shipped settings with company 100's entry extended by ``company_100`` (e.g. ``assumed_tables``)."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["companies"][0].update(company_100)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
