"""The client reads the environment's proxy and CA-bundle settings once, when it is made (a session that
trusts the environment reads every variable of it on every call), and still honours them and NO_PROXY."""

from __future__ import annotations

from hamgam.payamgostar.client import PayamgostarClient


def test_the_proxy_of_the_environment_is_used_and_no_proxy_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "crm.internal")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/hamgam/ca.pem")
    proxied = PayamgostarClient("https://crm.example.ir", "u", "p")
    direct = PayamgostarClient("https://crm.internal", "u", "p")

    assert proxied.session.proxies.get("https") == "http://proxy.example:3128"
    assert "https" not in direct.session.proxies
    assert proxied.session.verify == "/etc/hamgam/ca.pem"
    # settled when made: later changes of the environment are not read per call
    monkeypatch.setenv("HTTPS_PROXY", "http://other:1")
    assert proxied.session.trust_env is False
    settings = proxied.session.merge_environment_settings("https://crm.example.ir/api/v2/x", {}, None, None, None)
    assert settings["proxies"].get("https") == "http://proxy.example:3128"


def test_without_proxy_settings_the_client_goes_direct(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = PayamgostarClient("http://127.0.0.1:8000", "u", "p")
    assert not {k: v for k, v in client.session.proxies.items() if k != "no"}
