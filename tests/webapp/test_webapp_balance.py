"""``GET /api/balance/{companyCode}/{customerNumber}``: a customer's balance from Tadbir's voucher lines
(``__Article__`` of its detail account, debits less credits), token-protected like the stock read; the
voucher-line table is a hamgam assumption (``assumed_tables.article``): where it is not there, 503 naming it
and the setting. On the demo Tadbir on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_webapp_assumed_stock import company_100  # noqa: F401 (a fixture)
from webapp_support import SECRET

from tadbir_demo import fill_company
from throwaway_pg import pg_database

# what the tables hold, by the balance's definition: Σ Debit − Σ Credit of the customer's detail account
BALANCES = """
SELECT c.SubscriptionNo, c.Name, SUM(a.Debit), SUM(a.Credit) FROM __Customer__ c
JOIN __FiscalPeriod__ f ON f.Id = c.FPId
JOIN __Article__ a ON a.FAccId = c.FAccId AND a.FPId = c.FPId
WHERE f.FPNo = ? AND c.SubscriptionNo GLOB '[0-9]*' AND c.SubscriptionNo NOT GLOB '*[^0-9]*'
GROUP BY c.SubscriptionNo, c.Name, c.FAccId ORDER BY c.SubscriptionNo
"""


def table_balances(database: Path, fiscal_year: int) -> dict[str, tuple[int, int]]:
    with sqlite3.connect(database) as conn:
        return {code: (debit, credit) for code, _, debit, credit in conn.execute(BALANCES, (fiscal_year,))}


def balance(client, path: str, **params):
    return client.get(path, params={"token": SECRET, **params})


def test_the_balance_is_the_sum_of_the_customers_voucher_lines(client, tadbir):
    expected = table_balances(tadbir / "tadbir_100.sqlite", 1404)
    assert len(expected) > 10
    assert any(d != c for d, c in expected.values())  # some customers owe, some are owed
    for code, (debit, credit) in list(expected.items())[:12]:
        response = balance(client, f"/api/balance/100/100-{code}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["companyCode"], body["customerCode"], body["fiscalYear"]) == (100, code, 1404)
        assert (body["debit"], body["credit"], body["balance"]) == (debit, credit, debit - credit)
        assert body["customerNumber"] == f"100-{code}" and body["name"]


def test_another_fiscal_year_and_the_code_alone(client, tadbir):
    expected = table_balances(tadbir / "tadbir_100.sqlite", 1403)
    code, (debit, credit) = next(iter(expected.items()))
    by_number = balance(client, f"/api/balance/100/100-{code}", fiscal_year="1403").json()
    by_code = balance(client, f"/api/balance/100/{code}", fiscal_year="1403").json()
    assert by_number["balance"] == by_code["balance"] == debit - credit
    assert by_number["fiscalYear"] == 1403


def test_a_new_voucher_line_moves_the_balance(client, company_100):  # noqa: F811
    database = company_100()
    code, (debit, credit) = next(iter(table_balances(database, 1404).items()))
    before = balance(client, f"/api/balance/100/100-{code}").json()["balance"]
    with sqlite3.connect(database) as conn:
        f_acc, fp = conn.execute("SELECT c.FAccId, c.FPId FROM __Customer__ c JOIN __FiscalPeriod__ f "
                                 "ON f.Id = c.FPId WHERE f.FPNo = 1404 AND c.SubscriptionNo = ?", (code,)).fetchone()
        conn.execute("INSERT INTO __Article__ (Id, TransId, FPId, ANo, AccountId, FAccId, Debit, Credit) "
                     "VALUES (100000, 100000, ?, 1, '1103', ?, 0, 1234567)", (fp, f_acc))
    assert balance(client, f"/api/balance/100/100-{code}").json()["balance"] == before - 1234567


def test_the_balance_needs_the_secret(client, tadbir):
    assert client.get("/api/balance/100/100-10040").status_code == 401
    assert client.get("/api/balance/100/100-10040", params={"token": "wrong"}).status_code == 401


@pytest.mark.parametrize("path,params,status,says", [
    ("/api/balance/999/999-10040", {}, 404, "company 999 is not configured"),
    ("/api/balance/abc/100-10040", {}, 400, "path parameter 'companyCode'"),
    ("/api/balance/100/200-10040", {}, 404, "names company 200, not 100"),
    ("/api/balance/100/100-99999999", {}, 404, "no customer with code 99999999"),
    ("/api/balance/100/abc", {}, 400, "does not fit the numbering template '{companyCode}-{*(AN)}'"),
    ("/api/balance/100/100-10040", {"fiscal_year": "1390"}, 404, "Tadbir has no fiscal year 1390"),
    ("/api/balance/100/100-10040", {"fiscal_year": "x"}, 400, "query parameter 'fiscal_year'"),
])
def test_what_cannot_be_answered_says_why(client, tadbir, path, params, status, says):
    response = balance(client, path, **params)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


def test_a_missing_voucher_table_answers_503_naming_table_and_setting(client, company_100):  # noqa: F811
    company_100("DROP TABLE __Article__")
    response = balance(client, "/api/balance/100/100-10040")
    assert response.status_code == 503
    body = response.json()
    assert body["detail"].startswith("company 100 balance: Tadbir has no table __Article__")
    assert (body["table"], body["missing_columns"], body["settings"]) == (
        "__Article__", [], ["companies.0.assumed_tables.article.table"])


def test_the_balance_is_read_from_the_table_and_columns_the_settings_name(client, company_100):  # noqa: F811
    database = company_100("ALTER TABLE __Article__ RENAME TO VoucherLines",
                           "ALTER TABLE VoucherLines RENAME COLUMN FAccId TO DetailAccountId",
                           assumed_tables={"article": {"table": "VoucherLines",
                                                       "columns": {"FAccId": "DetailAccountId"}}})
    with sqlite3.connect(database) as conn:
        code, debit, credit = conn.execute(
            "SELECT c.SubscriptionNo, SUM(a.Debit), SUM(a.Credit) FROM __Customer__ c JOIN VoucherLines a "
            "ON a.DetailAccountId = c.FAccId AND a.FPId = c.FPId WHERE c.FPId = 2 AND c.SubscriptionNo = '10040' "
            "GROUP BY c.SubscriptionNo").fetchone()
    response = balance(client, f"/api/balance/100/100-{code}")
    assert response.status_code == 200, response.text
    assert response.json()["balance"] == debit - credit


def test_a_missing_column_answers_503_naming_the_column_setting(client, company_100):  # noqa: F811
    company_100("ALTER TABLE __Article__ RENAME COLUMN Credit TO Cr")
    body = balance(client, "/api/balance/100/100-10040").json()
    assert (body["missing_columns"], body["settings"]) == (["Credit"], ["companies.0.assumed_tables.article.columns.Credit"])


@pytest.fixture
def tadbir_on_postgres(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    with pg_database("hamgam_balance_test") as url:
        engine = sa.create_engine(url)
        fill_company(engine, 100)
        parsed = sa.make_url(url)
        monkeypatch.setenv("AIRFLOW_CONN_TADBIR_DEFAULT", json.dumps({
            "conn_type": "postgres", "host": parsed.host, "port": parsed.port, "schema": parsed.database,
            "login": parsed.username}))
        monkeypatch.setenv("AIRFLOW_CONN_TADBIR_200", json.dumps({"conn_type": "sqlite",
                                                                  "host": str(demo_dir / "tadbir_200.sqlite")}))
        try:
            yield engine
        finally:
            engine.dispose()
            from hamgam import connections

            for cached in [u for u in connections._engines if parsed.database and parsed.database in u]:
                connections._engines.pop(cached).dispose()


@pytest.mark.postgres
def test_the_balance_on_postgresql_matches_the_sqlite_demo(client, tadbir_on_postgres, demo_dir):
    expected = table_balances(demo_dir / "tadbir_100.sqlite", 1404)  # the same seed: the same rows
    for code, (debit, credit) in list(expected.items())[:8]:
        response = balance(client, f"/api/balance/100/100-{code}")
        assert response.status_code == 200, response.text
        assert response.json()["balance"] == debit - credit
    with tadbir_on_postgres.begin() as conn:
        conn.exec_driver_sql('DROP TABLE "__Article__"')
    response = balance(client, f"/api/balance/100/100-{code}")
    assert response.status_code == 503 and response.json()["table"] == "__Article__"
