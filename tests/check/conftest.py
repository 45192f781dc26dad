"""Fixtures of the ``hamgam check`` tests: the demo Tadbir once per session, the real sandbox once per
session, and per test a copy of the demo databases with the demo's connections and settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from check_world import CheckWorld, copy_demo

from pg_sandbox.testing import RunningSandbox, run_sandbox
from tadbir_demo import build_demo


@pytest.fixture(scope="session")
def demo_tadbir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("check-demo")
    build_demo(out)
    return out


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with run_sandbox(tmp_path_factory.mktemp("check-sandbox") / "sandbox.sqlite") as running:
        yield running


@pytest.fixture
def world(demo_tadbir: Path, sandbox: RunningSandbox, tmp_path: Path) -> CheckWorld:
    copy_demo(demo_tadbir, tmp_path)
    return CheckWorld(tmp_path, sandbox.base_url)
