"""The stock table is a hamgam assumption (``__MerchStockQty__``): a site's own names come from the company's
settings, and a table or column that is not there answers 503 naming it and the setting, not a 5xx crash."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from test_webapp_inventory import as_table, table_stock
from webapp_support import SECRET

from hamgam.config import DEFAULT_CONFIG


@pytest.fixture
def company_100(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``company_100(*statements, **settings)``: company 100's Tadbir a copy of the demo's with ``statements``
    run on it, and its entry in the settings extended by ``settings``."""
    monkeypatch.setenv("AIRFLOW_CONN_TADBIR_200", json.dumps({"conn_type": "sqlite",
                                                              "host": str(demo_dir / "tadbir_200.sqlite")}))

    def make(*statements: str, **settings) -> Path:
        copy = tmp_path / "tadbir_100.sqlite"
        shutil.copyfile(demo_dir / "tadbir_100.sqlite", copy)
        with sqlite3.connect(copy) as conn:
            for statement in statements:
                conn.execute(statement)
        monkeypatch.setenv("AIRFLOW_CONN_TADBIR_DEFAULT", json.dumps({"conn_type": "sqlite", "host": str(copy)}))
        data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        data["companies"][0].update(settings)
        (tmp_path / "hamgam.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        monkeypatch.setenv("HAMGAM_CONFIG", str(tmp_path / "hamgam.yaml"))
        return copy

    return make


def test_a_missing_stock_table_answers_503_naming_table_and_setting(client, company_100):
    company_100("DROP TABLE __MerchStockQty__")
    response = client.get("/api/inventory/100", params={"token": SECRET})
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith("company 100 stock: Tadbir has no table __MerchStockQty__")
    assert (body["company"], body["table"], body["missing_columns"], body["settings"]) == (
        100, "__MerchStockQty__", [], ["companies.0.assumed_tables.merch_stock_qty.table"])
    # the default company's stock (no code in the path) says the same
    assert client.get("/api/inventory", params={"token": SECRET}).status_code == 503


def test_a_missing_stock_column_answers_503_naming_the_column_setting(client, company_100):
    company_100("ALTER TABLE __MerchStockQty__ RENAME COLUMN Qty TO Quantity")
    response = client.get("/api/inventory/100", params={"token": SECRET})
    assert response.status_code == 503
    body = response.json()
    assert (body["table"], body["missing_columns"], body["settings"]) == (
        "__MerchStockQty__", ["Qty"], ["companies.0.assumed_tables.merch_stock_qty.columns.Qty"])


def test_the_stock_is_read_from_the_tables_and_columns_the_settings_name(client, company_100, demo_dir):
    company_100("ALTER TABLE __MerchStockQty__ RENAME TO StockView",
                "ALTER TABLE StockView RENAME COLUMN Qty TO Quantity",
                "ALTER TABLE StockView RENAME COLUMN StockRoomId TO WarehouseId",
                assumed_tables={"merch_stock_qty": {"table": "StockView",
                                                    "columns": {"Qty": "Quantity", "StockRoomId": "WarehouseId"}}})
    response = client.get("/api/inventory/100", params={"token": SECRET})
    assert response.status_code == 200, response.text
    expected = table_stock(demo_dir / "tadbir_100.sqlite")
    assert len(expected) > 50 and as_table(response.json()) == expected
