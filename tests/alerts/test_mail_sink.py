"""`make up`'s mail sink (``hamgam_dev.mail_sink``): what hamgam sends through Airflow's smtp connection
lands as one ``.eml`` file per message in the folder, whole and readable."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from hamgam.alerts import Mail, send
from hamgam.settings import AlertsConfig
from hamgam_dev.mail_sink import MailSink


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with MailSink(tmp_path / "mail") as running:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": running.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1}}))
        yield running


def test_each_alert_is_kept_as_one_eml_file(sink):
    alerts = AlertsConfig(email_to=["data-team@example.com"], from_email="hamgam@example.com")
    send(alerts, Mail("hamgam: 2 new record(s) of identities of company 100 need a person",
                      "<p>۲ مشتری: national code fails its checksum</p>"))
    send(alerts, Mail("hamgam: identities of company 100 recovered", "<p>syncing again</p>"))
    files = sorted(sink.folder.glob("*.eml"))  # the hook returns once the server has taken the message
    assert len(files) == 2 and not list(sink.folder.glob("*.part"))
    first = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert first["Subject"] == "hamgam: 2 new record(s) of identities of company 100 need a person"
    assert first["To"] == "data-team@example.com" and first["From"] == "hamgam@example.com"
    assert "۲ مشتری: national code fails its checksum" in first.get_body(("html",)).get_content()
    second = message_from_bytes(files[1].read_bytes(), policy=policy.default)
    assert second["Subject"] == "hamgam: identities of company 100 recovered"
