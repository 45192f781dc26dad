"""Webhook intake → ledger → reverse flow, for real: the sandbox sends its webhooks over HTTP to the hamgam web
app (``create_app``) served by uvicorn, which stores them in the test world's ledger; the reverse flow then
writes what they announce into Tadbir. Missing webhooks are caught by the sweep.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from reverse_world import CURRENT_PERIOD, SECRET, serve_webapp

from hamgam.webapp.events import ASSET_URIS


@pytest.fixture(scope="module")
def webapp(world):
    from hamgam.connections import sqlalchemy_url

    with serve_webapp(sqlalchemy_url("hamgam_state")) as app:
        world.sandbox.set_faults(webhook_identity_url=f"{app.url}/api/sync/customer?token={SECRET}",
                                 webhook_quote_url=f"{app.url}/api/sync/salequote?token={SECRET}",
                                 webhook_retry_delay_ms=10)
        yield app
        world.sandbox.set_faults(webhook_identity_url="", webhook_quote_url="")


def deliveries(world, crm_id: str) -> list[dict]:
    return [w for w in world.sandbox.webhooks() if w["id"] == crm_id]


def events_of(world, crm_id: str) -> list:
    return [e for e in world.ledger().events(limit=1000) if e.crm_id == crm_id]


def newest_crm_change(world) -> str:
    """The CRM's newest ModifyDate (CRM wall time, to the second): a sweep cursor that skips the past."""
    return max(r["modifyDate"] for r in world.sandbox.records("person", "organization", "quote"))[:19]


def test_crm_changes_arrive_by_webhook_and_reach_tadbir(world, webapp):
    person = world.create_person("100-20501", first="کیان", last="سلطانی")
    quote = world.save_quote("100-1404/9501", person, [("100-1002", 4, 150_000)])
    world.sandbox.flush_webhooks()

    [identity_hook] = deliveries(world, person)
    [quote_hook] = deliveries(world, quote)
    assert (identity_hook["outcome"], identity_hook["status"], identity_hook["event"]) == ("sent", 200, "Insert")
    assert (quote_hook["outcome"], quote_hook["status"], quote_hook["type"]) == ("sent", 200, "Quote")

    ledger = world.ledger()
    [event] = [e for e in ledger.pending_events("customer") if e.crm_id == person]
    assert (event.event, event.crm_type, event.subtype) == ("Insert", "Identity", "مخاطب حقیقی")
    assert [e.crm_id for e in ledger.pending_events("salequote")] == [quote]
    webapp.wait_for_notifications(2)
    assert (ASSET_URIS["customer"], {"source": "customer", "event": "Insert", "crm_id": person,
                                     "stored": True}) in webapp.notified
    assert any(uri == ASSET_URIS["salequote"] and extra["crm_id"] == quote for uri, extra in webapp.notified)

    assert world.reverse("customer") == {"created": 1}
    assert world.reverse("salequote") == {"created": 1}

    customer = world.customer(100, "20501")
    assert customer["Name"] == "کیان سلطانی"
    key = next(k for k, s in ledger.records(100, "quotes").items() if s.crm_id == quote)
    written = world.quotes(100)[int(key.partition("/")[2])]
    assert written["CustomerId"] == customer["Id"] and written["Total"] == 600_000
    assert [e.status for e in events_of(world, person) + events_of(world, quote)] == ["done", "done"]
    assert ledger.pending_events("customer") == [] and ledger.pending_events("salequote") == []


def test_duplicate_webhooks_for_a_pending_item_are_stored_once(world, webapp):
    person = world.create_person("100-20502", first="دنیا", last="قاسمی")
    world.update_identity("person", person, description="یک")
    world.update_identity("person", person, description="دو")
    world.sandbox.flush_webhooks()
    assert [w["event"] for w in deliveries(world, person)] == ["Insert", "Update", "Update"]
    assert {w["outcome"] for w in deliveries(world, person)} == {"sent"}

    [event] = events_of(world, person)
    assert (event.status, event.deliveries) == ("pending", 3)
    answer = requests.get(f"{webapp.url}/api/sync/customer", params={
        "event": "Update", "id": person, "type": "Identity", "subtype": "مخاطب حقیقی", "token": SECRET}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"stored": False}
    assert len(events_of(world, person)) == 1

    assert world.reverse("customer") == {"created": 1}
    assert world.customer(100, "20502")["CDesc"] == "دو"
    [event] = events_of(world, person)
    assert (event.status, event.deliveries) == ("done", 4)

    # once handled, the next change is a new event
    world.update_identity("person", person, description="سه")
    world.sandbox.flush_webhooks()
    assert [e.status for e in events_of(world, person)] == ["pending", "done"]
    assert world.reverse("customer") == {"updated": 1}


def test_a_webhook_without_the_secret_is_refused_and_stores_nothing(world, webapp):
    ledger = world.ledger()
    stored, notified = ledger.count_events(), len(webapp.notified)
    params = {"event": "Insert", "id": str(uuid.uuid4()), "type": "Identity", "subtype": "مخاطب حقیقی"}
    for token in (None, "wrong-secret"):
        answer = requests.get(f"{webapp.url}/api/sync/customer", timeout=10,
                              params=params if token is None else {**params, "token": token})
        assert answer.status_code == 401
    # a CRM configured without the token: its webhooks are refused (a 4xx is not retried)
    world.sandbox.set_faults(webhook_identity_url=f"{webapp.url}/api/sync/customer")
    try:
        person = world.create_person("100-20503", first="بردیا", last="نیکو")
        world.sandbox.flush_webhooks()
    finally:
        world.sandbox.set_faults(webhook_identity_url=f"{webapp.url}/api/sync/customer?token={SECRET}")
    [hook] = deliveries(world, person)
    assert (hook["outcome"], hook["status"], hook["attempts"]) == ("failed", 401, 1)
    assert ledger.count_events() == stored
    assert len(webapp.notified) == notified


def test_missing_webhooks_are_caught_by_the_sweep(world, webapp):
    from hamgam.reverse import run

    ledger = world.ledger()
    since = newest_crm_change(world)
    for source in ("customer", "salequote"):
        ledger.set_cursor(0, f"sweep:{source}", "modified_since", since)
    world.sandbox.set_faults(webhook_drop_rate=1.0)
    try:
        person = world.create_person("100-20504", first="هستی", last="پاکزاد")
        quote = world.save_quote("100-1404/9504", person)
        world.sandbox.flush_webhooks()
    finally:
        world.sandbox.set_faults(webhook_drop_rate=0.0)
    assert {w["outcome"] for w in deliveries(world, person) + deliveries(world, quote)} == {"dropped"}
    assert events_of(world, person) == events_of(world, quote) == []

    with world.configured(reverse={"sweep_overlap_seconds": 0}):
        assert run.collect("customer", sweep=False)["items"] == []  # webhooks alone miss them
        collected = run.collect("customer", sweep=True)
        assert {"crm_id": person, "subtype": "person", "events": []} in collected["items"]
        counts = run.apply(collected, run_id="sweep")  # (also any earlier identity whose webhook was refused)
        assert counts.get("created", 0) >= 1 and "rejected" not in counts, counts
        collected = run.collect("salequote", sweep=True)
        assert quote in [item["crm_id"] for item in collected["items"]]
        counts = run.apply(collected, run_id="sweep")
        assert counts.get("created") == 1 and "rejected" not in counts, counts
    assert world.customer(100, "20504") is not None
    assert any(s.crm_id == quote for s in ledger.records(100, "quotes").values())
    assert ledger.get_cursor(0, "sweep:customer", "modified_since") >= since


def test_the_forward_flows_own_writes_come_back_by_webhook_and_change_nothing(world, webapp):
    code, state = world.synced_identities(100, "person")[0]
    quote_key, quote_state = next((k, s) for k, s in sorted(world.ledger().records(100, "quotes").items())
                                  if s.status == "synced" and s.origin == "tadbir" and k.startswith("1404/"))
    with world.tadbir(100) as conn:  # edits made in Tadbir
        conn.execute("UPDATE __Customer__ SET PhoneNo = '021-88776655' WHERE FPId = ? AND SubscriptionNo = ?",
                     (CURRENT_PERIOD, code))
        conn.execute("UPDATE __SPFactor__ SET SPDesc = 'ویرایش در تدبیر' WHERE FPId = ? AND FactorType = 4 "
                     "AND FactorNo = ?", (CURRENT_PERIOD, int(quote_key.partition("/")[2])))
    counts = world.forward(("identities", "quotes"))
    assert counts["updated"] == 2
    world.sandbox.flush_webhooks()
    assert {e.status for e in events_of(world, state.crm_id) + events_of(world, quote_state.crm_id)} == {"pending"}

    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        assert world.reverse("customer") == {"unchanged": 1}
        assert world.reverse("salequote") == {"skipped": 1}
    assert world.digests() == before
    assert {e.status for e in events_of(world, state.crm_id) + events_of(world, quote_state.crm_id)} == {"done"}
