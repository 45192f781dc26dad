"""The world of the ``hamgam check`` tests: the demo Tadbir databases (built once per session, copied per
test), the real sandbox (one process per session; the check only reads) and the demo's connections as
environment variables, with the test's own settings file. ``CheckWorld.run`` runs ``python -m hamgam check``
in this process (``subprocess=True``: as its own process) and gives its exit code, text and rows."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from hamgam_dev.devenv import ROOT, airflow_env

COMPANIES = (100, 200)
WEBAPP_URL = "https://airflow.example.com/hamgam"


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def demo_settings() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / "hamgam.yaml").read_text(encoding="utf-8"))


@dataclass
class Result:
    code: int
    out: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.out)

    def rows(self, status: str | None = None) -> list[dict[str, Any]]:
        return [row for table in self.document["tables"] for row in table["rows"]
                if status is None or row["status"] == status]

    def row(self, check: str, company: int | None = 100) -> dict[str, Any]:
        table = next(t for t in self.document["tables"] if t["company"] == company)
        found = [row for row in table["rows"] if row["check"] == check]
        assert found, f"no row {check!r} for company {company}: {[r['check'] for r in table['rows']]}"
        return found[0]


class CheckWorld:
    def __init__(self, data: Path, sandbox_url: str) -> None:
        self.data = data
        self.settings = demo_settings()
        self.env = airflow_env(data, sandbox_url=sandbox_url, airflow_home=Path(os.environ["AIRFLOW_HOME"]))
        self.env["HAMGAM_WEBAPP_URL"] = WEBAPP_URL

    def tadbir(self, company: int = 100) -> sa.Engine:
        return sa.create_engine(f"sqlite:///{self.data / 'demo' / f'tadbir_{company}.sqlite'}")

    def connection(self, conn_id: str, **fields: Any) -> None:
        """Replace an Airflow connection (``AIRFLOW_CONN_<ID>``)."""
        self.env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(fields)

    def crm_password(self, password: str) -> None:
        crm = json.loads(self.env["AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT"])
        self.connection("payamgostar_default", **{**crm, "password": password})

    def _write_settings(self) -> Path:
        # a new file per run: the settings are cached per path
        path = self.data / f"hamgam-{len(list(self.data.glob('hamgam-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(self.settings, allow_unicode=True), encoding="utf-8")
        return path

    def run(self, *args: str, subprocess_: bool = False) -> Result:
        env = {**self.env, "HAMGAM_CONFIG": str(self._write_settings())}
        if subprocess_:
            done = subprocess.run([sys.executable, "-m", "hamgam", "check", *args], env={**os.environ, **env},
                                  capture_output=True, text=True, check=False)
            return Result(done.returncode, done.stdout)
        from hamgam.__main__ import main

        out = io.StringIO()
        with environment(env), contextlib.redirect_stdout(out):
            code = main(["check", *args])
        return Result(code, out.getvalue())


def copy_demo(source: Path, data: Path) -> None:
    (data / "demo").mkdir(parents=True, exist_ok=True)
    for code in COMPANIES:
        shutil.copyfile(source / f"tadbir_{code}.sqlite", data / "demo" / f"tadbir_{code}.sqlite")
