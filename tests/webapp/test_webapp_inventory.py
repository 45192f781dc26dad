"""The live stock read /api/inventory[/{companyCode}] against the demo Tadbir databases."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from webapp_support import SECRET

from hamgam.tadbir.reader import FiscalPeriod
from hamgam.webapp.inventory import current_period

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "config" / "hamgam.yaml"


def table_stock(database: Path, fiscal_year: int | None = None) -> dict[tuple[str, str], Decimal]:
    """What the tables hold: (Tadbir product code, warehouse code) -> quantity, for products (not groups)
    in the period of ``fiscal_year`` (default: the latest period, the current one in the demo)."""
    with sqlite3.connect(database) as conn:
        if fiscal_year is None:
            fiscal_year = conn.execute("SELECT FPNo FROM __FiscalPeriod__ ORDER BY StartDate DESC").fetchone()[0]
        rows = conn.execute(
            "SELECT m.Code, s.Code, q.Qty FROM __MerchStockQty__ q"
            " JOIN __Merchandise__ m ON m.Id = q.MerchId AND m.FPId = q.FPId"
            " JOIN __StockRoom__ s ON s.Id = q.StockRoomId AND s.FPId = q.FPId"
            " JOIN __FiscalPeriod__ f ON f.Id = q.FPId"
            " WHERE f.FPNo = ? AND m.IsGroup = 0", (fiscal_year,)).fetchall()
    return {(str(code), str(room)): Decimal(str(qty)) for code, room, qty in rows}


def answer(client, path: str = "/api/inventory/100", **params):
    response = client.get(path, params={"token": SECRET, **params})
    assert response.status_code == 200, response.text
    return response.json()


def as_table(lines: list[dict], prefix: str = "100-") -> dict[tuple[str, str], Decimal]:
    return {(line["productCode"].removeprefix(prefix), line["warehouseCode"]): Decimal(str(line["quantity"]))
            for line in lines}


def test_stock_per_product_and_warehouse_matches_the_table(client, tadbir):
    lines = answer(client)

    expected = table_stock(tadbir / "tadbir_100.sqlite")
    assert len(expected) > 50
    assert as_table(lines) == expected
    assert all(line["productCode"].startswith("100-") for line in lines)  # products.code_format: {company}-{code}
    first = lines[0]
    assert set(first) == {"productCode", "productName", "warehouseCode", "warehouseName", "quantity"}
    assert first["productName"] and first["warehouseName"] in ("انبار مرکزی", "انبار شماره 2")
    assert lines == sorted(lines, key=lambda line: (line["productCode"], line["warehouseCode"]))


def test_another_company_and_another_fiscal_year(client, tadbir):
    assert as_table(answer(client, "/api/inventory/200"), "200-") == table_stock(tadbir / "tadbir_200.sqlite")
    assert as_table(answer(client, fiscal_year="1403")) == table_stock(tadbir / "tadbir_100.sqlite", 1403)
    assert table_stock(tadbir / "tadbir_100.sqlite", 1403) != table_stock(tadbir / "tadbir_100.sqlite", 1404)


def test_excluded_warehouses_are_left_out(client, tadbir):
    everything = answer(client)
    without_2 = answer(client, exclude_warehouses="2")
    without_both = client.get("/api/inventory/100", params=[("token", SECRET), ("exclude_warehouses", "1"),
                                                              ("exclude_warehouses", "2")]).json()

    assert {line["warehouseCode"] for line in everything} == {"1", "2"}
    assert without_2 == [line for line in everything if line["warehouseCode"] != "2"]
    assert without_both == []
    assert answer(client, exclude_warehouses="1, 2") == []
    assert answer(client, exclude_warehouses="۲") == without_2  # Persian digits are codes too


def test_without_a_company_the_default_company(client, tadbir):
    assert answer(client, "/api/inventory") == answer(client, "/api/inventory/100")


def _config_without_default(tmp_path: Path, code_format: str | None = None) -> Path:
    text = DEFAULT_YAML.read_text(encoding="utf-8").replace("    default: true\n", "")
    if code_format:
        text += f'\nproducts:\n  code_format: "{code_format}"\n'
    path = tmp_path / "hamgam.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_with_no_default_company_the_sum_over_companies(client, tadbir, tmp_path, monkeypatch):
    monkeypatch.setenv("HAMGAM_CONFIG", str(_config_without_default(tmp_path)))
    lines = answer(client, "/api/inventory")

    # each company's products keep their own CRM codes (100-..., 200-...): all of them, side by side
    assert as_table([x for x in lines if x["productCode"].startswith("100-")]) == table_stock(
        tadbir / "tadbir_100.sqlite")
    assert as_table([x for x in lines if x["productCode"].startswith("200-")], "200-") == table_stock(
        tadbir / "tadbir_200.sqlite")


def test_with_shared_product_codes_the_companies_quantities_add_up(client, tadbir, tmp_path, monkeypatch):
    monkeypatch.setenv("HAMGAM_CONFIG", str(_config_without_default(tmp_path, code_format="{code}")))
    lines = answer(client, "/api/inventory")

    a, b = table_stock(tadbir / "tadbir_100.sqlite"), table_stock(tadbir / "tadbir_200.sqlite")
    expected = {key: a.get(key, Decimal(0)) + b.get(key, Decimal(0)) for key in a.keys() | b.keys()}
    assert as_table(lines, "") == expected
    assert any(key in a and key in b for key in expected)  # some products are in both


def test_inventory_needs_the_secret(client, tadbir):
    assert client.get("/api/inventory/100").status_code == 401
    assert client.get("/api/inventory", params={"token": "wrong"}).status_code == 401


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("/api/inventory/300", {}, 404, "company 300 is not configured"),
    ("/api/inventory/abc", {}, 400, "'companyCode'"),
    ("/api/inventory/100", {"fiscal_year": "1390"}, 404, "no fiscal year 1390"),
    ("/api/inventory/100", {"fiscal_year": "next"}, 400, "'fiscal_year'"),
])
def test_what_cannot_be_answered_says_why(client, tadbir, path, params, status, says):
    response = client.get(path, params={"token": SECRET, **params})
    assert response.status_code == status
    assert says in response.json()["detail"]


def test_a_tadbir_that_cannot_be_read_answers_502_naming_the_company(client, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TADBIR_200", f'{{"conn_type": "sqlite", "host": "{tmp_path}/none/x.db"}}')
    response = client.get("/api/inventory/200", params={"token": SECRET})
    assert response.status_code == 502
    assert response.json()["detail"].startswith("company 200: Tadbir could not be read")


def _period(pid: int, start: date, end: date) -> FiscalPeriod:
    return FiscalPeriod(pid, 1402 + pid, start, end, f"p{pid}")


def test_the_current_period_contains_today_or_is_the_latest_started():
    periods = [_period(1, date(2024, 3, 20), date(2025, 3, 20)), _period(2, date(2025, 3, 21), date(2026, 3, 20))]

    assert current_period(periods, date(2024, 6, 1)).id == 1
    assert current_period(periods, date(2025, 3, 21)).id == 2
    assert current_period(periods, date(2026, 11, 28)).id == 2  # the next year is not opened in Tadbir yet
    assert current_period(periods, date(2020, 1, 1)).id == 2
    assert current_period(periods, date(2026, 11, 28), fiscal_year=1403).id == 1
    assert current_period(periods, date(2026, 11, 28), fiscal_year=1390) is None
    assert current_period([], date(2026, 11, 28)) is None
