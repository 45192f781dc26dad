"""Failure e-mail through the smtp provider's notifier, to the address in the settings."""

from __future__ import annotations

from hamgam.settings import AlertsConfig

SUBJECT = "hamgam: {{ ti.dag_id }} / {{ ti.task_id }} failed ({{ run_id }})"
BODY = """<p dir="ltr">Task <b>{{ ti.task_id }}</b> of DAG <b>{{ ti.dag_id }}</b> failed
(try {{ ti.try_number }}, run {{ run_id }}, map index {{ ti.map_index }}).</p>
<p>Reason: {{ exception }}</p>
<p>Open the task log in the Airflow UI for the details; records that could not be synced stay queued
and are listed in the hamgam ledger with their reasons.</p>"""


def failure_notifier(alerts: AlertsConfig):
    """An SmtpNotifier for ``on_failure_callback``, or None when no address is configured."""
    if not alerts.email_to:
        return None
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(to=alerts.email_to, from_email=alerts.from_email, smtp_conn_id=alerts.smtp_conn_id,
                        subject=SUBJECT, html_content=BODY)
