"""hamgam's assumed Tadbir tables (``__PayReceive__``): their names come from each company's settings, and a
table or column that is not there fails the run once, naming the company, the table and the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException
from assumed_world import copy_of, settings_file

from hamgam import tasks
from hamgam.config import ConfigError, load_config, parse_config
from hamgam.entities import SPECS
from hamgam.ledger.store import Ledger
from hamgam.tadbir.source_check import missing_source

RENAMED = ("ALTER TABLE __PayReceive__ RENAME TO CashFlow",
           "ALTER TABLE CashFlow RENAME COLUMN ChequeNo TO CheckNumber",
           "ALTER TABLE CashFlow RENAME COLUMN Amount TO Price")
SITE_NAMES = {"pay_receive": {"table": "CashFlow", "columns": {"ChequeNo": "CheckNumber", "Amount": "Price"}}}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tadbir_demo import build_demo

    out = tmp_path_factory.mktemp("tadbir-demo")
    build_demo(out)
    return out


@pytest.fixture
def world(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``world(*statements, **company_100_settings)``: company 100's Tadbir is a copy of the demo's with the
    statements run on it, the settings the shipped ones plus those; a fresh ledger. Returns the copy's engine."""
    made = []

    def make(*statements: str, **company_100) -> sa.Engine:
        where = tmp_path / f"world{len(made)}"
        copy = copy_of(demo_dir / "tadbir_100.sqlite", where, *statements)
        monkeypatch.setenv("AIRFLOW_CONN_HAMGAM_STATE", json.dumps({"conn_type": "sqlite",
                                                                    "host": str(where / "state.sqlite")}))
        monkeypatch.setenv("AIRFLOW_CONN_TADBIR_DEFAULT", json.dumps({"conn_type": "sqlite", "host": str(copy)}))
        monkeypatch.setenv("HAMGAM_CONFIG", str(settings_file(where / "hamgam.yaml", **company_100)))
        made.append(copy)
        return sa.create_engine(f"sqlite:///{copy}")

    return make


def test_every_entity_finds_its_tables_in_the_demo(world):
    engine = world()
    config = load_config()
    assert {name: missing_source(engine, spec, config, 100) for name, spec in SPECS.items()} == dict.fromkeys(SPECS)


@pytest.mark.parametrize("entity", ["receipts", "payments"])
def test_a_missing_assumed_table_fails_the_run_once_naming_company_table_and_setting(world, entity):
    world("DROP TABLE __PayReceive__")
    with pytest.raises(AirflowFailException) as failed:  # Airflow does not retry it
        tasks.detect(entity, 100, run_id="manual__1", holder="h")
    message = str(failed.value)
    assert message.startswith(f"company 100 {entity}: Tadbir has no table __PayReceive__")
    assert "companies.0.assumed_tables.pay_receive.table" in message
    with Ledger.connect(load_config_state_url()) as ledger:
        run = ledger.find_run(SPECS[entity].dag_id, "manual__1", 100, entity)
        assert run is not None and run.state == "failed" and "no table __PayReceive__" in (run.message or "")


def load_config_state_url() -> str:
    from hamgam.connections import sqlalchemy_url

    return sqlalchemy_url(load_config().sync.state_conn_id)


def test_a_missing_column_names_the_column_setting(world):
    world("ALTER TABLE __PayReceive__ RENAME COLUMN ChequeNo TO CheckNumber")
    with pytest.raises(AirflowFailException, match="has no column ChequeNo.*companies.0.assumed_tables.pay_receive"
                                                   ".columns.ChequeNo"):
        tasks.detect("receipts", 100, run_id="manual__1", holder="h")


def test_a_missing_table_of_tadbirs_own_asks_about_the_connection(world):
    world("DROP TABLE __SPArticle__")
    with pytest.raises(AirflowFailException, match="company 100 sales_invoices: Tadbir has no table __SPArticle__ "
                                                   r"\(connection 'tadbir_default'\); is it company 100's"):
        tasks.detect("sales_invoices", 100, run_id="manual__1", holder="h")


def _detected(entity: str) -> dict:
    counts = tasks.detect(entity, 100, run_id=f"manual__{entity}", holder="h")
    return {k: v for k, v in counts.items() if k != "run_pk"}


@pytest.mark.parametrize("entity", ["receipts", "payments"])
def test_renamed_tables_and_columns_in_the_settings_are_read(world, entity):
    world()
    as_shipped = _detected(entity)
    assert as_shipped["queued"] > 0, as_shipped

    engine = world(*RENAMED, assumed_tables=SITE_NAMES)
    config = load_config()
    assert missing_source(engine, SPECS[entity], config, 100) is None
    assert _detected(entity) == as_shipped  # the same records, read from CashFlow


def test_renamed_tables_read_the_same_rows(world):
    """What the receipts read from the site's table is what they read from the assumed one, value for value."""
    from hamgam.tadbir import reader

    shipped_engine = world()
    shipped = SPECS["receipts"].for_company(load_config().company(100))
    renamed_engine = world(*RENAMED, assumed_tables=SITE_NAMES)
    spec = SPECS["receipts"].for_company(load_config().company(100))
    assert spec.source != shipped.source and spec.source.name == "CashFlow"
    period = reader.fiscal_periods(shipped_engine)[-1].id
    [before] = reader.read_period(shipped_engine, shipped.source, period, 100_000)
    [after] = reader.read_period(renamed_engine, spec.source, period, 100_000)
    assert len(before) > 0 and before.equals(after)


@pytest.mark.parametrize(("text", "message"), [
    ("companies: [{code: 100, assumed_tables: {pay_recieve: {table: X}}}]", "companies.0.assumed_tables.pay_recieve"),
    ("companies: [{code: 100, assumed_tables: {pay_receive: {colour: X}}}]",
     "companies.0.assumed_tables.pay_receive.colour"),
    ("companies: [{code: 100, assumed_tables: {pay_receive: {columns: {Cheque: X}}}}]",
     "companies.0.assumed_tables.pay_receive.columns.Cheque"),
    ("companies: [{code: 100, assumed_tables: {merch_stock_qty: {table: ''}}}]",
     "companies.0.assumed_tables.merch_stock_qty.table"),
])
def test_unknown_assumed_table_settings_are_named(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "site.yaml")


def test_the_assumed_names_are_the_defaults():
    tables = parse_config("companies: [{code: 100}]").company(100).assumed_tables
    assert (tables.pay_receive.table, tables.merch_stock_qty.table) == ("__PayReceive__", "__MerchStockQty__")
    assert tables.pay_receive.columns.ChequeNo == "ChequeNo" and tables.merch_stock_qty.columns.Qty == "Qty"
