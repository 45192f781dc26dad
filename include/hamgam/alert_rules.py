"""Alerts beyond a failed task, decided at the end of every forward run (the ``report`` task) from the ledger:

- **new records need a person**: a record of the company's entity is newly set aside (invalid or rejected).
  The set is kept in the ledger (cursor ``alert.needs_person``: its keys) so the e-mail goes
  once per change that adds a record, not on every run that still finds it; a set that only shrank (records
  fixed) sends nothing. Failed records are not in it: the next run sends them again, and the failed task
  alerts by itself.
- **freshness**: the company's entity is staler in the CRM than ``alerts.freshness_lag_minutes``
  (``hamgam.freshness``); once when the lag passes the threshold, again only after it was under it.
- **recovery**: a company whose run did not finish (the report named it) finishes again.

Each state moves in the ledger only after its e-mail went out: a mail server that is down means the alert
comes with the next run, not never. Nothing is sent, and no state kept, without an address in the settings.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from html import escape
from typing import Any

from hamgam.alerts import Mail, company_name, links, records_html, send
from hamgam.freshness import freshness_lag
from hamgam.settings import HamgamConfig

log = logging.getLogger(__name__)

NEEDS_PERSON = "alert.needs_person"
STALE = "alert.stale"
FAILING = "alert.failing"
SET_ASIDE = ("invalid", "rejected")


def after_run(ledger: Any, config: HamgamConfig, entity: str, companies: list[int], *, dag_id: str, run_id: str,
              unfinished: set[int], now: datetime, key_prefix: str | None = None) -> list[Mail]:
    """Send the alerts this run of ``entity`` calls for (``unfinished``: the companies whose run did not
    finish); returns the e-mails sent."""
    alerts = config.alerts
    if not alerts.email_to:
        return []
    sent = []
    for company in companies:
        for rule in (_needs_person, _stale, _recovered):
            decided = rule(ledger, config, entity, company, dag_id=dag_id, run_id=run_id, unfinished=unfinished,
                           now=now, key_prefix=key_prefix)
            if decided is None:
                continue
            mail, cursor, value = decided
            if mail is not None:
                try:
                    send(alerts, mail)
                except Exception:  # the state stays as it was: the next run tries again
                    log.exception("could not send the alert %r", mail.subject)
                    continue
                sent.append(mail)
            ledger.set_cursor(company, entity, cursor, value)
    return sent


Decision = tuple[Mail | None, str, str] | None  # (the e-mail to send first, if any; the cursor; its new value)


def _needs_person(ledger: Any, config: HamgamConfig, entity: str, company: int, *, dag_id: str, run_id: str,
                  key_prefix: str | None, **_: Any) -> Decision:
    if not config.alerts.needs_person:
        return None
    records = ledger.problems(company=company, entity=entity, statuses=SET_ASIDE)
    members = [f"{r.tadbir_key}\t{r.status}" for r in records]
    saved = json.loads(ledger.get_cursor(company, entity, NEEDS_PERSON) or "{}")
    known = set(saved.get("members", []))
    if known == set(members):
        return None
    value = json.dumps({"members": sorted(members)}, ensure_ascii=False)
    new = [r for r, m in zip(records, members, strict=True) if m not in known]
    if key_prefix is not None:  # a by-fiscal-year run names the new ones of its year; the others wait for theirs
        new = [r for r in new if r.tadbir_key.startswith(key_prefix)]
        if not new:
            return None
    if not new:  # only fewer than before: remember the smaller set, send nothing
        return None, NEEDS_PERSON, value
    where = f"{entity} of {company_name(config, company)}"
    html = (f"<p dir=\"ltr\">{len(new)} new record(s) of <b>{escape(where)}</b> need a person: hamgam set them aside "
            f"and will not send them until they are fixed in Tadbir (or the CRM) and sent again from the hamgam "
            f"page. {len(records)} record(s) of it are set aside in all.</p>"
            + records_html(new) + links(config.alerts, dag_id, run_id))
    return Mail(f"hamgam: {len(new)} new record(s) of {where} need a person", html), NEEDS_PERSON, value


def _stale(ledger: Any, config: HamgamConfig, entity: str, company: int, *, dag_id: str, run_id: str,
           now: datetime, **_: Any) -> Decision:
    threshold = config.alerts.freshness_lag_minutes
    if not threshold:
        return None
    lag = freshness_lag(ledger, company, entity, now)
    over = lag is not None and lag.total_seconds() > threshold * 60
    was_over = ledger.get_cursor(company, entity, STALE) == "1"
    if over == was_over:
        return None
    if not over:
        return None, STALE, "0"
    assert lag is not None
    where = f"{entity} of {company_name(config, company)}"
    minutes = int(lag.total_seconds() // 60)
    queued = ledger.pending_count(company, entity)
    html = (f"<p dir=\"ltr\">The CRM is <b>{minutes} minutes</b> behind Tadbir for <b>{escape(where)}</b> "
            f"(the threshold is {threshold} minutes): the last successful run, or the oldest change still queued, "
            f"is that old. {queued} change(s) are queued. Look at the latest runs: a failing load, a paused DAG "
            f"or a CRM that refuses calls keeps it from catching up.</p>" + links(config.alerts, dag_id, run_id))
    return (Mail(f"hamgam: the CRM is {minutes} minutes behind for {where}", html), STALE, "1")


def _recovered(ledger: Any, config: HamgamConfig, entity: str, company: int, *, dag_id: str, run_id: str,
               unfinished: set[int], **_: Any) -> Decision:
    failing = company in unfinished
    was_failing = ledger.get_cursor(company, entity, FAILING) == "1"
    if failing == was_failing:
        return None
    if failing or not config.alerts.recovery:
        return None, FAILING, "1" if failing else "0"
    where = f"{entity} of {company_name(config, company)}"
    run = ledger.find_run(dag_id, run_id, company, entity)
    counts = ", ".join(f"{n} {name}" for name, n in (run.counts.items() if run else ()) if n) or "nothing to do"
    html = (f"<p dir=\"ltr\"><b>{escape(where)}</b> is syncing again: run {escape(run_id)} finished ({escape(counts)})"
            f" after a run that did not.</p>" + links(config.alerts, dag_id, run_id))
    return Mail(f"hamgam: {where} recovered", html), FAILING, "0"
