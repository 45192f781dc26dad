"""The Payamgostar hook's ``test_connection`` (the connection form's Test button): the check's CRM rows against
the real sandbox, as (passed, message)."""

from __future__ import annotations

import json

from check_world import environment

from hamgam.payamgostar.hook import PayamgostarHook


def _crm_env(sandbox, password: str) -> dict[str, str]:
    return {"AIRFLOW_CONN_PAYAMGOSTAR_DEFAULT": json.dumps({
        "conn_type": "http", "host": sandbox.base_url, "login": sandbox.username, "password": password,
        "extra": {"timeout": 10}})}


def test_the_test_button_passes_on_the_sandbox(sandbox):
    with environment(_crm_env(sandbox, sandbox.password)):
        passed, message = PayamgostarHook().test_connection()
    assert passed, message
    assert message.endswith("CRM checks passed (login, SOAP, type codes and finds)")


def test_the_test_button_names_a_refused_login_and_never_the_password(sandbox):
    with environment(_crm_env(sandbox, "not-the-password")):
        passed, message = PayamgostarHook().test_connection()
    assert not passed
    assert message.startswith("✗ crm: REST login (auth/login): login refused: wrong user name or password")
    assert "fix: set login and password of this connection to the CRM integration user's" in message
    assert "not-the-password" not in message


def test_airflow_tests_a_payamgostar_connection_with_the_hook(sandbox):
    """What the connection form's Test button does (the API's test route): the connection under a transient id
    in the environment, then ``Connection.test_connection``, which finds the hook by the connection type
    hamgam registers as a provider (``hamgam.provider_info``)."""
    from airflow.models.connection import Connection

    for password, expected in ((sandbox.password, True), ("wrong", False)):
        conn = Connection(conn_id="transient_check", conn_type="payamgostar", host=sandbox.base_url,
                          login=sandbox.username, password=password)
        with environment({"AIRFLOW_CONN_TRANSIENT_CHECK": conn.as_json()}):
            passed, message = conn.test_connection()
        assert passed is expected, message
        assert "wrong" not in message.replace("wrong user name", "")
