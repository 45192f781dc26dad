"""Webhooks the way Payamgostar sends them (§6): GET, no body, event/id/type/subtype appended to the
configured URL, after the write committed, off the request thread, retried, counted and logged."""

import time
from urllib.parse import parse_qs

import pytest
import requests
from sandbox_helpers import Api, login, organization, person
from soap_helpers import invoice, line, unique_code
from webhook_helpers import Receiver

from pg_sandbox.__main__ import parse_args, settings_from_args
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.testing import free_port, run_sandbox
from pg_sandbox.webhooks import masked, request_url

PERSON, ORGANIZATION, QUOTE = "مخاطب حقیقی", "مخاطب حقوقی", "پیش فاکتور کالا"
WEBHOOK_DEFAULTS = {name: getattr(SandboxSettings, name) for name in SandboxSettings.__dataclass_fields__
                    if name.startswith("webhook_")}


@pytest.fixture(autouse=True)
def _webhooks_off_afterwards(pg):
    yield
    pg.flush_webhooks(timeout=30)
    pg.set_faults(**{name: list(value) if isinstance(value, tuple) else value
                     for name, value in WEBHOOK_DEFAULTS.items()})


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def webhook_stats(pg) -> dict[str, int]:
    return pg.stats()["webhooks"]


def save_quote(soap, identity: str, product_code: str, *, crm_id: str | None = None, number: str | None = None,
               invoice_type: str = "Quote") -> str:
    saved = soap.call("IInvoice", "SaveInvoice", invoice(identity, number or unique_code("Q"), [line(product_code)],
                                                         invoice_type=invoice_type, type_code="PI_5", crm_id=crm_id))
    assert saved["Success"] == "true", saved
    return saved["CrmId"]


# ---- what is sent ------------------------------------------------------------------------------

def test_a_person_create_sends_one_get_with_insert_and_no_body(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    crm_id = api.create("person", person())
    pg.flush_webhooks()
    [hit] = receiver.for_id(crm_id)
    assert (hit.method, hit.path, hit.body) == ("GET", "/webhook/crm", b"")
    assert hit.query == {"event": ["Insert"], "id": [crm_id], "type": ["Identity"], "subtype": [PERSON]}
    assert [part.partition("=")[0] for part in hit.raw_query.split("&")] == ["event", "id", "type", "subtype"]
    assert "+" in hit.raw_query and "%20" not in hit.raw_query  # form-encoded: a space is '+'
    assert hit.header_names() == {"host"}  # no User-Agent, no Content-Type, no Accept


def test_an_update_sends_update_and_an_organization_its_own_subtype(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    crm_id = api.create("organization", organization())
    api.ok("crmobject/organization/update", {"crmId": crm_id, "nickName": "شرکت تازه"})
    pg.flush_webhooks()
    hits = receiver.for_id(crm_id)
    assert [(h.param("event"), h.param("type"), h.param("subtype")) for h in hits] == [
        ("Insert", "Identity", ORGANIZATION), ("Update", "Identity", ORGANIZATION)]


def test_deletes_are_sent_only_when_delete_is_among_the_events(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    assert pg.settings()["webhook_events"] == ["Insert", "Update"]  # as the observed CRM
    quiet = api.create("person", person())
    api.ok("crmobject/person/delete", {"id": quiet})
    pg.set_faults(webhook_events=["Insert", "Update", "Delete"])
    loud = api.create("person", person())
    api.ok("crmobject/person/delete", {"Id": loud, "Option": 1})
    pg.flush_webhooks()
    assert [h.param("event") for h in receiver.for_id(quiet)] == ["Insert"]
    assert [h.param("event") for h in receiver.for_id(loud)] == ["Insert", "Delete"]


def test_event_set_can_leave_out_inserts(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url, webhook_events=["Update"])
    crm_id = api.create("person", person())
    api.ok("crmobject/person/update", {"crmId": crm_id, "lastName": "کریمی"})
    pg.flush_webhooks()
    assert [h.param("event") for h in receiver.for_id(crm_id)] == ["Update"]


def test_quote_saves_send_type_quote_and_sales_invoices_send_nothing(pg, soap, identity, product_code, receiver):
    pg.set_faults(webhook_quote_url=receiver.url, webhook_identity_url="")
    quote = save_quote(soap, identity, product_code)
    save_quote(soap, identity, product_code, crm_id=quote)
    sales_invoice = save_quote(soap, identity, product_code, invoice_type="Invoice")
    pg.flush_webhooks()
    assert [(h.param("event"), h.param("type"), h.param("subtype")) for h in receiver.for_id(quote)] == [
        ("Insert", "Quote", QUOTE), ("Update", "Quote", QUOTE)]
    assert receiver.for_id(sales_invoice) == [] and receiver.for_id(identity) == []


def test_quote_deletes_send_delete_when_enabled(pg, soap, identity, product_code, receiver):
    pg.set_faults(webhook_quote_url=receiver.url, webhook_events=["Delete"])
    by_id = save_quote(soap, identity, product_code)
    number = unique_code("Q")
    by_number = save_quote(soap, identity, product_code, number=number)
    assert soap.call("IInvoice", "DeleteInvoiceById", f"<invoiceId>{by_id}</invoiceId>"
                     "<deleteOption>DeleteWithHistory</deleteOption>")["Success"] == "true"
    assert soap.call("IInvoice", "DeleteInvoiceByNumber", f"<number>{number}</number><invoiceType>Quote</invoiceType>"
                     "<typeCode>PI_5</typeCode><deleteOption>Nothing</deleteOption>")["Success"] == "true"
    pg.flush_webhooks()
    assert [h.param("event") for h in receiver.for_id(by_id)] == ["Delete"]
    assert [h.param("event") for h in receiver.for_id(by_number)] == ["Delete"]


def test_the_urls_own_query_string_is_kept_and_masked_in_the_log(pg, api, receiver):
    pg.set_faults(webhook_identity_url=f"{receiver.base}/hook?token=S3CRET&site=a+b")
    crm_id = api.create("person", person())
    pg.flush_webhooks()
    [hit] = receiver.for_id(crm_id)
    assert hit.path == "/hook" and hit.raw_query.startswith("token=S3CRET&site=a+b&event=Insert&")
    assert hit.param("token") == "S3CRET" and hit.param("site") == "a b" and hit.param("id") == crm_id
    [entry] = [e for e in pg.webhooks() if e["id"] == crm_id]
    assert entry["url"] == f"{receiver.base}/hook?token=***&site=***"
    assert "S3CRET" not in str(pg.webhooks())
    assert (entry["outcome"], entry["status"], entry["attempts"], entry["event"], entry["type"]) == (
        "sent", 200, 1, "Insert", "Identity")


def test_subtype_display_names_are_settings(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url, webhook_person_subtype="مخاطب حقیقی siagh")
    crm_id = api.create("person", person())
    pg.flush_webhooks()
    [hit] = receiver.for_id(crm_id)
    assert hit.param("subtype") == "مخاطب حقیقی siagh"
    assert "siagh" in hit.raw_query and "+siagh" in hit.raw_query


def test_writes_fire_even_when_the_answer_is_a_500_after_commit(pg, api, receiver):
    """The write landed, so the CRM announces it, whatever the caller saw (and hamgam must cope)."""
    pg.set_faults(webhook_identity_url=receiver.url, error_after_commit_rate=1.0)
    before = {r["crmId"] for r in pg.records("person")}
    assert api.post("crmobject/person/create", person()).status_code == 500
    pg.flush_webhooks()
    [crm_id] = {r["crmId"] for r in pg.records("person")} - before
    assert [h.param("event") for h in receiver.for_id(crm_id)] == ["Insert"]


def test_refused_and_faulted_writes_send_nothing(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    sent = webhook_stats(pg)["sent"]
    assert api.post("crmobject/person/create", {"crmObjectTypeCode": "person"}).status_code == 400
    assert api.post("crmobject/person/update", {"crmId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}).status_code == 404
    pg.set_faults(error_rate=1.0)
    assert api.post("crmobject/person/create", person()).status_code == 500
    pg.flush_webhooks()
    assert receiver.hits == [] and webhook_stats(pg)["sent"] == sent


# ---- off, dropped, failing -----------------------------------------------------------------------

def test_no_url_sends_nothing(pg, api, soap, identity, product_code, receiver):
    pg.set_faults(webhook_quote_url=receiver.url)  # identities stay off
    before = webhook_stats(pg)
    crm_id = api.create("person", person())
    pg.set_faults(webhook_quote_url="")
    save_quote(soap, identity, product_code)
    pg.flush_webhooks()
    assert receiver.hits == [] and not [e for e in pg.webhooks() if e["id"] == crm_id]
    assert webhook_stats(pg) == before


def test_drop_rate_one_sends_nothing_but_counts_and_logs_the_drops(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url, webhook_drop_rate=1.0)
    before = webhook_stats(pg)
    crm_id = api.create("person", person())
    api.ok("crmobject/person/update", {"crmId": crm_id, "lastName": "کریمی"})
    pg.flush_webhooks()
    after = webhook_stats(pg)
    assert receiver.hits == []
    assert after["dropped"] - before["dropped"] == 2 and after["sent"] == before["sent"]
    assert [(e["event"], e["outcome"], e["status"], e["attempts"]) for e in pg.webhooks() if e["id"] == crm_id] == [
        ("Insert", "dropped", None, 0), ("Update", "dropped", None, 0)]


def test_drops_follow_the_seed(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url, webhook_drop_rate=0.5)

    def pattern() -> list[bool]:
        pg.set_faults(seed=99)
        ids = [api.create("person", person()) for _ in range(12)]
        pg.flush_webhooks()
        return [bool(receiver.for_id(crm_id)) for crm_id in ids]

    first = pattern()
    assert 0 < sum(first) < 12
    assert pattern() == first


def test_a_receiver_that_is_down_is_retried_then_counted_failed_and_the_api_is_not_held_up(pg, api):
    down = f"http://127.0.0.1:{free_port()}/webhook"
    pg.set_faults(webhook_identity_url=down, webhook_attempts=3, webhook_retry_delay_ms=400)
    before = webhook_stats(pg)
    started = time.monotonic()
    crm_id = api.create("person", person())
    took = time.monotonic() - started
    assert took < 0.4  # the retries alone take 0.4 + 0.8 s
    pg.flush_webhooks()
    after = webhook_stats(pg)
    assert (after["failed"] - before["failed"], after["retries"] - before["retries"]) == (1, 2)
    assert after["sent"] == before["sent"] and after["pending"] == 0
    [entry] = [e for e in pg.webhooks() if e["id"] == crm_id]
    assert (entry["outcome"], entry["status"], entry["attempts"]) == ("failed", None, 3)
    assert "Connection" in entry["error"]


def test_a_slow_receiver_does_not_delay_the_api_answer(pg, api):
    with Receiver(delay=1.5) as slow:
        pg.set_faults(webhook_identity_url=slow.url)
        started = time.monotonic()
        crm_id = api.create("person", person())
        assert time.monotonic() - started < 1.0
        assert pg.stats()["webhooks"]["pending"] == 1
        with pytest.raises(TimeoutError):
            pg.flush_webhooks(timeout=0.2)
        pg.flush_webhooks()
        assert len(slow.for_id(crm_id)) == 1


def test_a_5xx_is_retried_and_a_4xx_is_final(pg, api):
    with Receiver(statuses=(503, 502)) as flaky:
        pg.set_faults(webhook_identity_url=flaky.url, webhook_retry_delay_ms=10)
        recovered = api.create("person", person())
        pg.flush_webhooks()
        flaky.statuses.extend([404])
        refused = api.create("person", person())
        pg.flush_webhooks()
    assert len(flaky.for_id(recovered)) == 3 and len(flaky.for_id(refused)) == 1
    entries = {e["id"]: e for e in pg.webhooks() if e["id"] in (recovered, refused)}
    assert (entries[recovered]["outcome"], entries[recovered]["attempts"], entries[recovered]["status"]) == (
        "sent", 3, 200)
    assert (entries[refused]["outcome"], entries[refused]["attempts"], entries[refused]["status"]) == (
        "failed", 1, 404)


def test_a_receiver_slower_than_the_timeout_fails(pg, api):
    with Receiver(delay=1.0) as slow:
        pg.set_faults(webhook_identity_url=slow.url, webhook_timeout_seconds=0.2, webhook_attempts=1)
        crm_id = api.create("person", person())
        pg.flush_webhooks()
    [entry] = [e for e in pg.webhooks() if e["id"] == crm_id]
    assert entry["outcome"] == "failed" and "timed out" in entry["error"]


def test_webhooks_are_sent_in_commit_order(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    crm_id = api.create("person", person())
    for n in range(5):
        api.ok("crmobject/person/update", {"crmId": crm_id, "lastName": f"نام {n}"})
    pg.flush_webhooks()
    assert [h.param("event") for h in receiver.for_id(crm_id)] == ["Insert"] + ["Update"] * 5


# ---- admin ---------------------------------------------------------------------------------------

def test_the_log_keeps_the_last_deliveries_and_can_be_cleared(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    ids = [api.create("person", person()) for _ in range(3)]
    pg.flush_webhooks()
    assert [e["id"] for e in pg.webhooks(limit=2)] == ids[1:]
    seqs = [e["seq"] for e in pg.webhooks()]
    assert seqs == sorted(seqs)
    pg.clear_webhooks()
    assert pg.webhooks() == []
    assert webhook_stats(pg)["sent"] >= 3  # the counters stay


def test_stats_reset_clears_the_webhook_counters(pg, api, receiver):
    pg.set_faults(webhook_identity_url=receiver.url)
    api.create("person", person())
    pg.flush_webhooks()
    assert pg.reset_stats()["webhooks"] == {"sent": 0, "failed": 0, "dropped": 0, "retries": 0, "pending": 0}


def test_flush_answers_at_once_when_nothing_is_pending(pg):
    answer = requests.post(f"{pg.base_url}/_sandbox/webhooks/flush?timeout=0", timeout=5).json()
    assert answer == {"flushed": True, "pending": 0}


# ---- settings ------------------------------------------------------------------------------------

def test_webhook_settings_defaults():
    settings = SandboxSettings()
    assert (settings.webhook_identity_url, settings.webhook_quote_url) == ("", "")
    assert settings.webhook_events == ("Insert", "Update")
    assert (settings.webhook_timeout_seconds, settings.webhook_attempts, settings.webhook_drop_rate) == (5, 3, 0)
    assert (settings.webhook_person_subtype, settings.webhook_organization_subtype,
            settings.webhook_quote_subtype) == (PERSON, ORGANIZATION, QUOTE)


def test_webhook_settings_from_env_and_flags(monkeypatch):
    env = {"PG_SANDBOX_WEBHOOK_IDENTITY_URL": "http://hamgam:8080/webhook/crm/customer?token=x",
           "PG_SANDBOX_WEBHOOK_EVENTS": "Insert,Update,Delete", "PG_SANDBOX_WEBHOOK_DROP_RATE": "0.25"}
    settings = SandboxSettings.from_env(env)
    assert settings.webhook_identity_url.endswith("?token=x")
    assert settings.webhook_events == ("Insert", "Update", "Delete") and settings.webhook_drop_rate == 0.25
    args = parse_args(["--webhook-quote-url", "https://crm-hooks.example/q", "--webhook-timeout-seconds", "2.5",
                       "--webhook-quote-subtype", "پیش فاکتور رسمی"])
    settings = settings_from_args(args)
    assert (settings.webhook_quote_url, settings.webhook_timeout_seconds, settings.webhook_quote_subtype) == (
        "https://crm-hooks.example/q", 2.5, "پیش فاکتور رسمی")


def test_run_sandbox_passes_webhook_settings_as_flags(tmp_path, receiver):
    url = f"{receiver.base}/api/sync/customer?token=t%26k"
    with run_sandbox(tmp_path / "hooks.sqlite", webhook_identity_url=url, webhook_events=("Insert", "Delete"),
                     webhook_organization_subtype="مخاطب حقوقی رسمی") as other:
        settings = other.settings()
        assert settings["webhook_identity_url"] == url and settings["webhook_events"] == ["Insert", "Delete"]
        api = Api(other.base_url, login(other.base_url).json()["accessToken"])
        crm_id = api.create("organization", organization())
        api.ok("crmobject/organization/update", {"crmId": crm_id, "nickName": "نام تازه"})
        api.ok("crmobject/organization/delete", {"id": crm_id})
        other.flush_webhooks()
        assert other.stats()["webhooks"]["sent"] == 2
    hits = receiver.for_id(crm_id)
    assert [h.param("event") for h in hits] == ["Insert", "Delete"]
    assert {(h.path, h.param("token"), h.param("subtype")) for h in hits} == {
        ("/api/sync/customer", "t&k", "مخاطب حقوقی رسمی")}


@pytest.mark.parametrize("bad", [{"webhook_identity_url": "ftp://x/y"}, {"webhook_quote_url": "not a url"},
                                 {"webhook_events": ("Insert", "Upsert")}, {"webhook_drop_rate": 1.5},
                                 {"webhook_timeout_seconds": 0}, {"webhook_attempts": 0},
                                 {"webhook_retry_delay_ms": -1}, {"webhook_person_subtype": " "}])
def test_bad_webhook_settings_are_refused(bad):
    with pytest.raises(ValueError):
        SandboxSettings(**bad)


@pytest.mark.parametrize("changes", [{"webhook_events": "Insert,Update"}, {"webhook_identity_url": 5},
                                     {"webhook_events": ["Created"]}, {"webhook_attempts": 1.5}])
def test_bad_runtime_webhook_settings_are_400(pg, changes):
    response = requests.post(f"{pg.base_url}/_sandbox/settings", json=changes, timeout=5)
    assert response.status_code == 400, response.text


# ---- the URL helpers -----------------------------------------------------------------------------

def test_request_url_appends_to_an_existing_query_and_drops_the_fragment():
    params = {"event": "Insert", "id": "x", "type": "Identity", "subtype": "مخاطب حقیقی"}
    assert request_url("http://h:1/hook?token=a%2Fb#frag", params) == (
        "http://h:1/hook?token=a%2Fb&event=Insert&id=x&type=Identity"
        "&subtype=%D9%85%D8%AE%D8%A7%D8%B7%D8%A8+%D8%AD%D9%82%DB%8C%D9%82%DB%8C")
    assert request_url("http://h", {"event": "Update"}) == "http://h/?event=Update"
    assert parse_qs(request_url("http://h/p?", params).partition("?")[2])["subtype"] == ["مخاطب حقیقی"]


def test_masked_hides_query_values_and_passwords():
    assert masked("https://user:pw@h:8443/p?token=abc&empty=&x=1#f") == "https://user:***@h:8443/p?token=***&empty=***&x=***"
    assert masked("http://h/p") == "http://h/p"
