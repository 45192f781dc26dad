"""Fixtures of the pipeline tests: one real sandbox per module, emptied and fault-free for each test."""

from __future__ import annotations

import pytest

from hamgam.payamgostar.client import PayamgostarClient
from pg_sandbox.testing import run_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("pipeline") / "sandbox.sqlite") as running:
        yield running


@pytest.fixture
def crm(sandbox):
    sandbox.reset()
    sandbox.reset_stats()
    sandbox.clear_faults()
    with PayamgostarClient(sandbox.base_url, sandbox.username, sandbox.password, max_attempts=2,
                           sleep=lambda s: None) as client:
        yield client
