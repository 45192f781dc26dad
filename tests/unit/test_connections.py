"""Airflow connections → what pymssql is given: the README's Tadbir examples connect as written."""

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from hamgam.connections import sqlalchemy_url

README = Path(__file__).resolve().parents[2] / "README.md"


def pymssql_args(conn_id: str) -> dict:
    """What ``pymssql.connect`` would receive for the connection (no SQL Server needed)."""
    engine = sa.create_engine(sqlalchemy_url(conn_id))
    return engine.dialect.create_connect_args(engine.url)[1]


def set_connection(monkeypatch, conn_id: str, connection: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


@pytest.mark.parametrize(("connection", "server"), [
    ({"host": "tadbir-sql\\Tadbir"}, "tadbir-sql\\Tadbir"),  # a named instance: SQL Browser finds its port
    ({"host": "10.0.0.5", "port": 1433}, "10.0.0.5:1433"),
    ({"host": "sql1"}, "sql1"),
    ({"host": "sql1", "extra": {"instance": "Tadbir"}}, "sql1\\Tadbir"),
])
def test_a_mssql_connection_reaches_pymssql_as_given(monkeypatch, connection, server):
    set_connection(monkeypatch, "tadbir_test", {"conn_type": "mssql", "schema": "Tadbir 1404", "login": "ha@mgam",
                                                "password": "p@ss:/w?rd", **connection})
    args = pymssql_args("tadbir_test")
    assert (args["host"], args["user"], args["password"], args["database"]) == (
        server, "ha@mgam", "p@ss:/w?rd", "Tadbir 1404")
    assert "port" not in args  # pymssql gets the port as part of the server


def test_driver_options_in_the_extras_reach_pymssql(monkeypatch):
    set_connection(monkeypatch, "tadbir_test", {"conn_type": "mssql", "host": "sql1", "schema": "Tadbir",
                                                "extra": {"tds_version": "7.4", "charset": "UTF-8"}})
    args = pymssql_args("tadbir_test")
    assert (args["tds_version"], args["charset"]) == ("7.4", "UTF-8")


def test_an_instance_and_a_port_together_are_refused(monkeypatch):
    set_connection(monkeypatch, "tadbir_test", {"conn_type": "mssql", "host": "sql1\\Tadbir", "port": 1433})
    with pytest.raises(ValueError, match="tadbir_test.*instance.*port"):
        sqlalchemy_url("tadbir_test")


def test_the_sqlalchemy_url_extra_still_wins(monkeypatch):
    set_connection(monkeypatch, "tadbir_test", {"conn_type": "mssql", "host": "ignored",
                                                "extra": {"sqlalchemy_url": "mssql+pyodbc://dsn"}})
    assert sqlalchemy_url("tadbir_test") == "mssql+pyodbc://dsn"


def _readme_tadbir_connections() -> tuple[dict, str]:
    """The README's ``AIRFLOW_CONN_TADBIR_DEFAULT`` example, and the host its connection table gives."""
    text = README.read_text(encoding="utf-8")
    exported = re.search(r"AIRFLOW_CONN_TADBIR_DEFAULT='(\{.*?\})'", text)
    row = re.search(r"^\| `tadbir_default` \|.*type `mssql`, host `([^`]+)`", text, re.MULTILINE)
    assert exported and row, "the README's Tadbir connection examples moved: update this test's patterns"
    return json.loads(exported.group(1)), row.group(1)


def test_the_readme_tadbir_examples_connect_as_written(monkeypatch):
    exported, table_host = _readme_tadbir_connections()
    set_connection(monkeypatch, "tadbir_default", exported)
    args = pymssql_args("tadbir_default")
    port = f":{exported['port']}" if exported.get("port") else ""
    assert (args["host"], args["user"], args["database"]) == (
        exported["host"] + port, exported["login"], exported["schema"])

    set_connection(monkeypatch, "tadbir_default", {"conn_type": "mssql", "host": table_host, "schema": "Tadbir1404",
                                                   "login": "hamgam", "password": "secret"})
    assert pymssql_args("tadbir_default")["host"] == table_host
