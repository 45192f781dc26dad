"""Fixtures of the pipeline tests: one real sandbox per module, emptied and fault-free for each test; the
documents' hand-made Tadbir database (a module that needs another declares its own ``tadbir``) and a ledger."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from document_world import BAD_NATIONAL_CODE, PERSON_NATIONAL_CODE

from hamgam.ledger import Ledger
from hamgam.payamgostar.client import PayamgostarClient
from hamgam.tadbir import schema
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


@pytest.fixture(scope="module")
def tadbir_template(tmp_path_factory) -> Path:
    """Two fiscal periods, each with customers 501 (clean), 502 (clean, a person) and 503 (a national code
    that fails its checksum), products 1001 and 1002 and broker 1. Built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("tadbir") / "template.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    schema.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert(), [
            {"Id": 1, "FPNo": 1403, "Name": "1403", "StartDate": datetime(2024, 3, 20),
             "EndDate": datetime(2025, 3, 20, 23, 59, 59)},
            {"Id": 2, "FPNo": 1404, "Name": "1404", "StartDate": datetime(2025, 3, 21),
             "EndDate": datetime(2026, 3, 20, 23, 59, 59)},
        ])
        for fp in (1, 2):
            conn.execute(schema.customer.insert(), [
                {"Id": 1, "FPId": fp, "SubscriptionNo": "501", "Name": "شرکت پارس", "RegisterCode": ""},
                {"Id": 2, "FPId": fp, "SubscriptionNo": "502", "Name": "علی احمدی",
                 "RegisterCode": PERSON_NATIONAL_CODE},
                {"Id": 3, "FPId": fp, "SubscriptionNo": "503", "Name": "مریم کریمی", "RegisterCode": BAD_NATIONAL_CODE},
            ])
            conn.execute(schema.merchandise.insert(), [
                {"Id": 1, "FPId": fp, "Code": "1001", "Name": "پیچ گوشتی", "IsGroup": 0, "UnitPrice": 100_000},
                {"Id": 2, "FPId": fp, "Code": "1002", "Name": "آچار", "IsGroup": 0, "UnitPrice": 250_000},
            ])
            conn.execute(schema.broker.insert(), [{"Id": 1, "FPId": fp, "Name": "رضا فروشنده"}])
    engine.dispose()
    return path


@pytest.fixture
def tadbir(tmp_path, tadbir_template):
    path = tmp_path / "tadbir.sqlite"
    shutil.copyfile(tadbir_template, path)
    engine = sa.create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(tmp_path):
    with Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as opened:
        yield opened
