"""Connections → clients and engines: what the Airflow connections of the README turn into."""

import json

import pytest

from hamgam.connections import sqlalchemy_url
from hamgam.payamgostar.hook import PayamgostarHook, base_url_of


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("https://crm.example.com", None, "https://crm.example.com"),
    ("crm.example.com", 8443, "https://crm.example.com:8443"),
    ("http://127.0.0.1:8765/", None, "http://127.0.0.1:8765"),
    ("http://127.0.0.1", 8765, "http://127.0.0.1:8765"),
])
def test_base_url(host, port, expected):
    assert base_url_of(host, port) == expected


def test_a_connection_without_host_is_a_clear_error():
    with pytest.raises(ValueError, match="has no host"):
        base_url_of("", None)


def test_the_hook_builds_a_client_from_the_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PAYAMGOSTAR_TEST", json.dumps({
        "conn_type": "http", "host": "https://crm.example.com", "login": "etl", "password": "s3cret",
        "extra": {"timeout": 45, "max_attempts": 7, "max_workers": 3}}))
    client = PayamgostarHook("payamgostar_test").get_conn()
    assert client.base_url == "https://crm.example.com"
    assert (client.timeout, client.max_attempts, client.max_workers) == ((5.0, 45.0), 7, 3)
    assert "s3cret" not in repr(vars(client).get("session"))


@pytest.mark.parametrize(("connection", "expected"), [
    ({"conn_type": "sqlite", "host": "/data/tadbir.sqlite"}, "sqlite:////data/tadbir.sqlite"),
    ({"conn_type": "postgres", "host": "db", "port": 5432, "login": "hamgam", "schema": "state"},
     "postgresql+psycopg://hamgam@db:5432/state"),
    ({"conn_type": "mssql", "host": "sql1", "port": 1433, "login": "sa", "password": "pw", "schema": "Tadbir1404"},
     "mssql+pymssql://sa:pw@sql1:1433/Tadbir1404"),
    ({"conn_type": "generic", "extra": {"sqlalchemy_url": "mssql+pyodbc://dsn"}}, "mssql+pyodbc://dsn"),
])
def test_sqlalchemy_urls_from_connections(monkeypatch, connection, expected):
    monkeypatch.setenv("AIRFLOW_CONN_DB_TEST", json.dumps(connection))
    assert sqlalchemy_url("db_test") == expected


def test_an_unusable_connection_type_says_what_to_do(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DB_TEST", json.dumps({"conn_type": "ftp", "host": "x"}))
    with pytest.raises(ValueError, match="sqlalchemy_url"):
        sqlalchemy_url("db_test")


def test_the_soap_assumptions_are_connection_extras(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PAYAMGOSTAR_TEST", json.dumps({
        "conn_type": "http", "host": "https://crm.example.com", "login": "etl", "password": "s3cret",
        "extra": {"resolve_type_ids": False, "access_probe": "false", "access_refusals": ["قفل شده"],
                  "internal_fault_rejects": False}}))
    client = PayamgostarHook("payamgostar_test").get_conn()
    assert (client.resolve_type_ids, client.access_probe, client.access_refusals) == (False, False, ("قفل شده",))
    assert client.internal_fault_rejects is False
