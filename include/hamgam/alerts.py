"""Alert e-mails a person can act on: what happened, to which company and entity, which records, and links to
the run in the Airflow UI and to the hamgam page. Sent through the smtp provider's hook and the connection the
settings name (``alerts``); without an address in the settings nothing is sent.

A failed task sends its own e-mail (``failure_notifier``, its ``on_failure_callback``). What the report task
finds beyond a failed task (new records that need a person, a stale CRM, a company that recovered) is decided
in ``hamgam.alert_rules`` and sent with ``send``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from hamgam.settings import AlertsConfig

if TYPE_CHECKING:
    from airflow.sdk import Context

    from hamgam.settings import HamgamConfig

log = logging.getLogger(__name__)

RECORDS_LISTED = 20  # records named in one e-mail; the rest are counted, and listed on the hamgam page


@dataclass(frozen=True)
class Mail:
    subject: str
    html: str


def send(alerts: AlertsConfig, mail: Mail) -> None:
    """Send ``mail`` to the settings' addresses through their SMTP connection (raises what the hook raises)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=alerts.smtp_conn_id) as hook:
        hook.send_email_smtp(to=alerts.email_to, from_email=alerts.from_email, subject=mail.subject,
                             html_content=mail.html, mime_charset="utf-8")


def run_url(alerts: AlertsConfig, dag_id: str, run_id: str) -> str:
    """The DAG run in the Airflow UI."""
    return f"{alerts.base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def page_url(alerts: AlertsConfig) -> str:
    """The hamgam page (the web app the Airflow plugin serves under /hamgam)."""
    return f"{alerts.base_url.rstrip('/')}/hamgam/"


def links(alerts: AlertsConfig, dag_id: str | None, run_id: str | None) -> str:
    items = []
    if dag_id and run_id:
        items.append(f'<a href="{escape(run_url(alerts, dag_id, run_id))}">the run in Airflow</a>')
    items.append(f'<a href="{escape(page_url(alerts))}">the hamgam page</a> (records that need a person, resend)')
    return "<p>Open " + " and ".join(items) + ".</p>"


def records_html(records: list[Any], total: int | None = None) -> str:
    """A list of records (ledger ``ProblemRecord``s): key, CRM number, status and reason."""
    if not records:
        return ""
    total = len(records) if total is None else total
    rows = "".join(
        f"<li>{escape(r.tadbir_key)}{f' (CRM {escape(r.crm_number)})' if r.crm_number else ''}: "
        f"{escape(r.status)}: {escape(r.last_error or 'no reason recorded')}</li>" for r in records[:RECORDS_LISTED])
    more = (f"<p>… and {total - RECORDS_LISTED} more on the hamgam page.</p>" if total > RECORDS_LISTED else "")
    return f"<ul>{rows}</ul>{more}"


def company_name(config: HamgamConfig, company: int) -> str:
    named = next((c.name for c in config.companies if c.code == company), "")
    return f"company {company}" + (f" ({named})" if named else "")


def _company_of(context: Any, config: HamgamConfig, entity: str | None) -> int | None:
    """The company a mapped task worked for: its label (``company 100``, set by the task), else its map index
    into the entity's companies (the order the task group is expanded in)."""
    label = str(context.get("company_label") or "")
    if label.startswith("company ") and label[8:].isdigit():
        return int(label[8:])
    ti = context["ti"]
    index = getattr(ti, "map_index", -1)
    if entity is None or index is None or index < 0:
        return None
    companies = config.companies_for(entity)
    return companies[index] if index < len(companies) else None


def failure_mail(context: Any, config: HamgamConfig) -> Mail:
    """The e-mail of a failed task: company, entity, task and reason, the records that could not be synced
    (from the ledger), links to the run and to the hamgam page."""
    from hamgam.entities import SPECS

    ti = context["ti"]
    dag_id, run_id = ti.dag_id, context.get("run_id") or ti.run_id
    group = ti.task_id.split(".", 1)[0]
    entity = group if group in SPECS and "." in ti.task_id else None
    company = _company_of(context, config, entity)
    where = " ".join(p for p in (entity, company_name(config, company) if company is not None else None) if p)
    subject = f"hamgam: {where + ' ' if where else ''}failed: {dag_id} / {ti.task_id} (run {run_id})"
    parts = [f"<p dir=\"ltr\">Task <b>{escape(ti.task_id)}</b> of DAG <b>{escape(dag_id)}</b> failed"
             f"{f' for <b>{escape(where)}</b>' if where else ''} (try {ti.try_number}, run {escape(run_id)}).</p>",
             f"<p>Reason: {escape(str(context.get('exception') or 'see the task log'))}</p>"]
    if entity is not None and company is not None:
        parts.append(_records_part(config, company, entity))
    parts.append(links(config.alerts, dag_id, run_id))
    return Mail(subject, "\n".join(parts))


def _records_part(config: HamgamConfig, company: int, entity: str) -> str:
    """What the ledger says is waiting: the records that failed, and how many changes are still queued."""
    from hamgam.connections import open_ledger

    try:
        ledger = open_ledger(config)
        failed = ledger.problems(company=company, entity=entity, statuses=("failed",))
        queued = ledger.pending_count(company, entity)
    except Exception as exc:  # the e-mail still goes: the failure matters more than its details
        return f"<p>The ledger could not be read for the records ({escape(type(exc).__name__)}).</p>"
    text = (f"<p>{len(failed)} record(s) could not reach the CRM and will be sent again by the next run; "
            f"{queued} change(s) are queued.</p>" if failed else f"<p>{queued} change(s) are queued.</p>")
    return text + records_html(failed)


class FailureNotifier(BaseNotifier):
    """``on_failure_callback`` of the sync tasks: the failure e-mail (``failure_mail``) to the settings' address."""

    def __init__(self, alerts: AlertsConfig) -> None:
        super().__init__()
        self.alerts = alerts

    def notify(self, context: Context) -> None:
        from hamgam.config import load_config

        config = load_config()
        send(self.alerts, failure_mail(context, config))


def failure_notifier(alerts: AlertsConfig) -> FailureNotifier | None:
    """The notifier for ``on_failure_callback``, or None when no address is configured."""
    return FailureNotifier(alerts) if alerts.email_to else None
