"""The reverse DAGs' work: collect changed CRM items (webhook events, plus a sweep of items modified since
the last sweep for events that never arrived), then apply each one to Tadbir and record the outcome."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hamgam.config import load_config
from hamgam.connections import engine_for
from hamgam.reverse.common import Rejected
from hamgam.reverse.specs import REVERSE_SPECS, ReverseSpec
from hamgam.tadbir.clock import TEHRAN
from hamgam.tadbir.write_tables import reflect
from hamgam.tadbir.writer import WriteConflict, WriteRefused

log = logging.getLogger(__name__)
SWEEP_SCOPE = 0  # ledger cursors of the sweeps are not per company
MAX_ITEMS = 2000  # per run; the rest waits for the next run (XCom stays small)
CRM_TIMEZONE = TEHRAN  # the CRM's dates are Tehran wall time without an offset


def _sweep_since(ledger: Any, source: str, overlap: int) -> datetime:
    saved = ledger.get_cursor(SWEEP_SCOPE, f"sweep:{source}", "modified_since")
    if saved is None:  # first sweep: only what changed from now on (the forward flow covers the past)
        return datetime.now(CRM_TIMEZONE).replace(tzinfo=None) - timedelta(seconds=overlap)
    return datetime.fromisoformat(saved) - timedelta(seconds=overlap)


def collect(source: str, *, sweep: bool = True) -> dict[str, Any]:
    """The CRM ids to apply: pending webhook events, then what the sweep finds modified since last time."""
    from hamgam.payamgostar.hook import PayamgostarHook
    from hamgam.tasks import open_ledger

    config = load_config()
    ledger = open_ledger(config)
    items: dict[str, dict[str, Any]] = {}
    for event in ledger.pending_events(source, limit=MAX_ITEMS):
        item = items.setdefault(event.crm_id, {"crm_id": event.crm_id, "subtype": event.subtype, "events": []})
        item["events"].append([event.id, event.deliveries])
    swept = 0
    if sweep:
        since = _sweep_since(ledger, source, config.reverse.sweep_overlap_seconds)
        newest = since
        with PayamgostarHook(config.sync.crm_conn_id).get_conn() as client:
            found = REVERSE_SPECS[source].sweep(client, since, config)
        for record, kind in found:
            crm_id = record.get("crmId") or record.get("CrmId")
            modified = record.get("modifyDate") or record.get("ModifyDate")
            if isinstance(modified, str):
                modified = datetime.fromisoformat(modified[:19])
            if modified and modified > newest:
                newest = modified
            if crm_id and crm_id not in items and len(items) < MAX_ITEMS:
                items[crm_id] = {"crm_id": crm_id, "subtype": kind, "events": []}
                swept += 1
        ledger.set_cursor(SWEEP_SCOPE, f"sweep:{source}", "modified_since", newest.isoformat(timespec="seconds"))
    log.info("%s: %d item(s) from webhooks, %d more found by the sweep", source, len(items) - swept, swept)
    return {"source": source, "items": list(items.values())}


def apply(collected: dict[str, Any], *, run_id: str) -> dict[str, int]:
    """Apply each collected CRM item to Tadbir; record every outcome (and why) in the ledger."""
    from hamgam.payamgostar.hook import PayamgostarHook
    from hamgam.tasks import open_ledger

    config = load_config()
    ledger = open_ledger(config)
    source = collected["source"]
    spec = REVERSE_SPECS[source]
    switch = spec.switch(config)
    counts: Counter[str] = Counter()
    engines = {c.code: engine_for(c.tadbir_conn_id, config) for c in config.companies if c.enabled}
    if switch.enabled:  # a Tadbir that cannot take hamgam's writes is refused here, before any item is written
        for engine in engines.values():
            reflect(engine, refresh=True)  # the site's tables as they are now; this run's writers use them
    with PayamgostarHook(config.sync.crm_conn_id).get_conn() as client:
        for item in collected["items"]:
            if not switch.enabled:
                outcome, message = "skipped", f"the CRM → Tadbir switch for {source} is off"
            else:
                outcome, message = _apply_one(config, spec, item, client, engines, ledger)
            counts[outcome] += 1
            # failed: try again; ignored: the CRM copy of something deleted in Tadbir, not brought back
            status = {"rejected": "failed", "failed": "pending", "ignored": "ignored"}.get(outcome, "done")
            for event_id, deliveries in item["events"]:
                # a webhook that arrived meanwhile keeps its event pending for the next run
                ledger.finish_event(event_id, status, message, run_id=run_id, deliveries=deliveries)
    log.info("%s: %s", source, dict(counts))
    if counts["failed"]:  # Tadbir or the CRM kept failing: the task fails, Airflow retries, the team is told
        raise RuntimeError(f"{source}: {counts['failed']} item(s) could not be written into Tadbir and stay "
                           "queued; see the log above")
    return dict(counts)


def _apply_one(config, spec: ReverseSpec, item: dict, client, engines, ledger) -> tuple[str, str]:
    crm_id = item["crm_id"]
    scope = config.default_company().code
    try:
        result = spec.apply(config, item, client, engines, ledger)
        if result is None:  # deleted in the CRM: never touches Tadbir
            return "skipped", f"{spec.label} {crm_id} is no longer in the CRM"
    except WriteConflict as exc:  # another writer kept winning: not the item's fault, so it is tried again
        log.warning("%s %s: %s", spec.source, crm_id, exc)
        return "failed", str(exc)
    except WriteRefused as exc:  # Tadbir refused it (a site's constraint, a column too short): stays queued and
        log.error("%s %s: %s", spec.source, crm_id, exc)  # the run fails, so the team sees it, fixes, retries
        return "failed", str(exc)
    except Rejected as exc:
        ledger.record_outcome(scope, spec.crm_entity, crm_id, status="rejected", crm_id=crm_id, origin="crm",
                              error=str(exc))
        log.warning("%s", exc)
        return "rejected", str(exc)
    if spec.records_synced or result.action in ("skipped", "ignored"):
        status = "skipped" if result.action in ("skipped", "ignored") else "synced"
        ledger.record_outcome(result.company, spec.crm_entity, crm_id, status=status, crm_id=crm_id,
                              origin="crm", error=result.message or None)
    return result.action, result.message
