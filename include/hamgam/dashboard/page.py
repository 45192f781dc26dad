"""The hamgam page as HTML, rendered on the server: no external asset, one small inline script for the
actions (a confirmation, then a POST with the header the action routes require)."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from hamgam.dashboard.overview import SHOWN, EntityRow
from hamgam.dashboard.records import LISTABLE, MAX_ROWS, PersonRecord, RecordFilter

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left}
th{background:#f3f3f3} td.n{text-align:right} .bad{color:#b71c1c;font-weight:600} .muted{color:#777}
form.filter{display:flex;gap:6px;flex-wrap:wrap;align-items:end;font-size:13px} button{cursor:pointer}
#message{padding:6px;margin:8px 0;background:#e8f5e9;display:none}
"""

SCRIPT = """
async function hamgamAction(url, body, question) {
  if (!window.confirm(question)) return;
  const box = document.getElementById('message');
  const answer = await fetch(url, {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-Hamgam-Confirmed': 'yes'}, body: JSON.stringify(body)});
  const data = await answer.json().catch(() => ({detail: answer.statusText}));
  box.style.display = 'block';
  box.textContent = answer.ok ? data.message : ('refused: ' + (data.detail || answer.status));
  box.dataset.state = answer.ok ? 'done' : 'refused';
}
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (b) hamgamAction(b.dataset.action, JSON.parse(b.dataset.body), b.dataset.question);
});
"""


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _button(label: str, action: str, body: dict[str, Any], question: str, test_id: str) -> str:
    return (f'<button type="button" data-testid="{escape(test_id)}" data-action="{escape(action)}" '
            f'data-body="{escape(json.dumps(body, ensure_ascii=False))}" data-question="{escape(question)}">'
            f'{escape(label)}</button>')


def overview_table(rows: list[EntityRow], now: datetime, airflow: str) -> str:
    head = "".join(f"<th>{name}</th>" for name in SHOWN)
    out = [f'<table id="overview"><tr><th>company</th><th>entity</th>{head}<th>oldest queued</th>'
           '<th>last successful run</th><th>freshness lag</th><th>DAG</th><th>actions</th></tr>']
    for row in rows:
        cells = "".join(
            f'<td class="n{" bad" if name in ("invalid", "rejected", "failed") and row.counts[name] else ""}" '
            f'data-testid="count-{row.company}-{row.entity}-{name}">{row.counts[name]}</td>' for name in SHOWN)
        dag = f'<a target="_top" href="{airflow}/dags/{quote(row.dag_id)}">{escape(row.dag_id)}</a>'
        if row.last_run is not None:
            dag += (f' · <a target="_top" href="{airflow}/dags/{quote(row.last_run["dag_id"])}/runs/'
                    f'{quote(row.last_run["run_id"], safe="")}">last run</a> ({escape(row.last_run["state"])})')
        oldest = ("—" if row.oldest_queued_at is None
                  else f"{_when(row.oldest_queued_at)} ({_age(row.queued_age_seconds(now))})")
        transfer = _button("transfer all", "api/dashboard/transfer-all", {"entity": row.entity},
                           f"Send every {row.entity} record of every company to the CRM again (full resync)?",
                           f"transfer-{row.entity}-{row.company}")
        out.append(f"<tr><td>{row.company}</td><td>{escape(row.entity)}</td>{cells}<td>{oldest}</td>"
                   f"<td>{_when(row.last_success_at)}</td><td>{_age(row.freshness_lag_seconds(now))}</td>"
                   f"<td>{dag}</td><td>{transfer}</td></tr>")
    out.append("</table>")
    return "".join(out)


def filter_form(flt: RecordFilter, companies: list[int], entities: list[str]) -> str:
    def options(values: list[str], chosen: str) -> str:
        return "".join(f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(v) or "all"}'
                       "</option>" for v in ["", *values])

    status = ",".join(flt.statuses) if len(flt.statuses) == 1 else ""
    return (f'<form class="filter" method="get" action="" id="filter">'
            f'<label>company <select name="company">{options([str(c) for c in companies], str(flt.company or ""))}'
            f'</select></label><label>entity <select name="entity">{options(entities, flt.entity or "")}</select>'
            f'</label><label>status <select name="status">{options(list(LISTABLE), status)}</select></label>'
            f'<label>fiscal year <input name="fiscal_year" size="5" value="{flt.fiscal_year or ""}"></label>'
            f'<label>text <input name="q" value="{escape(flt.text or "")}"></label>'
            f'<button type="submit">filter</button></form>')


def records_table(records: list[PersonRecord], flt: RecordFilter, total_shown_limit: int) -> str:
    query = urlencode(flt.query_string())
    out = [f'<p><a href="api/dashboard/records.csv{"?" + query if query else ""}" data-testid="csv">'
           f'download CSV</a> · {len(records)} record(s)'
           f'{" (the first " + str(total_shown_limit) + ")" if len(records) >= total_shown_limit else ""} · ',
           _button("resend all of this filter", "api/dashboard/resend", {"filter": flt.query_string()},
                   f"Send all {len(records)} record(s) of this filter to the CRM again?"
                   if len(records) < total_shown_limit else
                   f"Send all records of this filter to the CRM again? (more than the {total_shown_limit} listed; "
                   f"up to {MAX_ROWS} at a time)", "resend-filter"),
           '</p><table id="records"><tr><th>company</th><th>entity</th><th>status</th><th>reason</th>'
           '<th>Tadbir number</th><th>Tadbir id</th><th>CRM id / number</th><th>first seen</th><th>last tried</th>'
           '<th></th></tr>']
    for r in records:
        crm = " / ".join(escape(v) for v in (r.crm_id, r.crm_number) if v) or "—"
        resend = _button("resend", "api/dashboard/resend",
                         {"company": r.company, "entity": r.entity, "keys": [r.tadbir_key]},
                         f"Send {r.entity} {r.tadbir_key} of company {r.company} to the CRM again?",
                         f"resend-{r.company}-{r.entity}-{r.tadbir_key}")
        out.append(f'<tr data-testid="record-{r.company}-{escape(r.entity)}-{escape(r.tadbir_key)}">'
                   f"<td>{r.company}</td><td>{escape(r.entity)}</td>"
                   f'<td class="bad">{escape(r.status)}</td><td>{escape(r.reason or "")}</td>'
                   f"<td>{escape(r.tadbir_key)}</td><td>{escape(r.tadbir_ids) or '—'}</td><td>{crm}</td>"
                   f"<td>{_when(r.first_seen)}</td><td>{_when(r.last_tried)}</td><td>{resend}</td></tr>")
    out.append("</table>")
    return "".join(out)


def events_table(counts: dict[str, int], events: list[Any]) -> str:
    summary = " · ".join(f'{name} <b data-testid="events-{name}">{n}</b>' for name, n in counts.items())
    out = [f"<p>{summary}</p><table id=\"events\"><tr><th>received</th><th>webhook</th><th>event</th>"
           "<th>CRM id</th><th>deliveries</th><th>status</th><th>reason</th><th>processed</th></tr>"]
    for e in events:
        out.append(f"<tr><td>{_when(e.received_at)}</td><td>{escape(e.source)}</td><td>{escape(e.event)}</td>"
                   f"<td>{escape(e.crm_id)}</td><td class=\"n\">{e.deliveries}</td><td>{escape(e.status)}</td>"
                   f"<td>{escape(e.message or '')}</td><td>{_when(e.processed_at)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def drift_table(report: dict[str, Any] | None) -> str:
    """The latest drift report (hamgam.drift.latest_drift_report): count and Σ amount in Tadbir, the ledger and
    the CRM per company, entity and fiscal year, and the keys nobody explains."""
    if report is None:
        return '<p class="muted" data-testid="drift-none">No drift report yet: hamgam_drift_report writes one.</p>'

    def side(values: dict[str, Any]) -> str:
        amount = values.get("amount")
        return f"{values['count']}" + ("" if amount is None else f" · Σ {amount:,}")

    out = [f'<p>{escape(report["created_at"])} ({escape(report["run_id"])}): unexplained '
           f'<b data-testid="drift-unexplained">{report["unexplained"]}</b></p>'
           "<table id=\"drift\"><tr><th>company</th><th>entity</th><th>fiscal year</th><th>Tadbir</th>"
           "<th>ledger</th><th>CRM</th><th>differences (explained ones included)</th><th>unexplained</th></tr>"]
    for r in report["rows"]:
        counts = ", ".join(f"{way.replace('_', ' ')} {n}" for way, n in r["difference_counts"].items() if n)
        out.append(f"<tr><td>{r['company']}</td><td>{escape(r['entity'])}</td>"
                   f"<td>{r['fiscal_year'] if r['fiscal_year'] is not None else '—'}</td>"
                   f"<td class=\"n\">{side(r['tadbir'])}</td><td class=\"n\">{side(r['ledger'])}</td>"
                   f"<td class=\"n\">{side(r['crm'])}</td><td>{escape(counts) or '—'}</td>"
                   f"<td>{escape(', '.join(map(str, r['unexplained']))) or '—'}</td></tr>")
    out.append("</table>")
    return "".join(out)


def render(*, user: str, now: datetime, overview: str, filters: str, records: str, events: str, chart: str,
           airflow: str, drift: str = "") -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hamgam</title>'
            f"<style>{STYLE}</style></head><body>"
            f'<h1>hamgam: Tadbir → Payamgostar</h1><p class="muted">{_when(now)} · logged in to Airflow as '
            f'<span data-testid="user">{escape(user)}</span> · <a target="_top" href="{airflow}/">Airflow</a> · '
            f'<a href="docs">API docs</a></p><div id="message" data-testid="message"></div>'
            f"<h2>Per company and entity</h2>{overview}"
            f'<h2 id="need-a-person">Records that need a person</h2>{filters}{records}'
            f"<h2>Synced and set aside</h2>{chart}"
            f"<h2>Webhook events</h2>{events}"
            f'<h2 id="drift-report">Drift: Tadbir, ledger and CRM per fiscal year</h2>{drift}'
            f"<script>{SCRIPT}</script></body></html>")
