"""The webhooks /api/sync/customer and /api/sync/salequote: secret, parameters, the ledger, the notification."""

from __future__ import annotations

import json
import logging

import pytest
from webapp_support import GUID, OTHER_GUID, SECRET, make_client

from hamgam.webapp import create_app
from hamgam.webapp.api import Cached
from hamgam.webapp.events import ASSET_URIS

SUBTYPE = "مخاطب حقیقی siagh"


def hook(client, source="customer", *, token=SECRET, **params):
    query = {"event": "Insert", "id": GUID, "type": "Identity", "subtype": SUBTYPE, **params}
    if token is not None:
        query["token"] = token
    return client.get(f"/api/sync/{source}", params={k: v for k, v in query.items() if v is not None})


def test_health_needs_no_secret(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + "x", SECRET.upper()])
def test_a_missing_or_wrong_token_is_refused_and_nothing_is_stored(client, ledger, notifier, token):
    response = hook(client, token=token)

    assert response.status_code == 401
    assert ledger.count_events() == 0
    assert notifier.calls == []


def test_the_secret_may_also_come_as_a_bearer_token(client, ledger):
    response = client.get("/api/sync/customer", params={"event": "Update", "id": GUID},
                          headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200 and response.json() == {"stored": True}
    wrong = client.get("/api/sync/customer", params={"event": "Update", "id": OTHER_GUID},
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert ledger.count_events() == 1


def test_a_secret_not_configured_refuses_everything(ledger_url, notifier):
    for resolver in (lambda: None, lambda: "", _raise_not_found):
        app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=resolver, notify=notifier)
        with make_client(app) as client:
            response = hook(client)
        assert response.status_code == 503
        assert "hamgam_webhook" in response.json()["detail"]
    assert notifier.calls == []


def _raise_not_found():
    raise LookupError("The conn_id `hamgam_webhook` isn't defined")


@pytest.mark.parametrize(("params", "named"), [
    ({"event": None}, "'event'"),
    ({"event": ""}, "'event'"),
    ({"event": "Created"}, "'event'"),
    ({"id": None}, "'id'"),
    ({"id": "10255"}, "'id'"),
    ({"id": "880d8361-7560-45b7-9670-79d91257f59"}, "'id'"),
    ({"id": "'; DROP TABLE webhook_event; --"}, "'id'"),
    ({"subtype": "x" * 251}, "'subtype'"),
    ({"type": "x" * 101}, "'type'"),
])
def test_bad_parameters_are_refused_naming_the_parameter_and_nothing_is_stored(client, ledger, notifier,
                                                                                params, named):
    response = hook(client, **params)

    assert response.status_code == 400
    assert named in response.json()["detail"]
    assert ledger.count_events() == 0
    assert notifier.calls == []


def test_a_wrong_token_is_refused_before_the_parameters_are_looked_at(client):
    assert hook(client, token="wrong", id="not-a-guid").status_code == 401


def test_an_insert_is_stored_with_what_the_crm_sent_and_answered_at_once(client, ledger):
    response = hook(client)

    assert response.status_code == 200 and response.json() == {"stored": True}
    [row] = ledger.pending_events("customer")
    assert (row.source, row.event, row.crm_id, row.crm_type, row.subtype, row.status) == (
        "customer", "Insert", GUID, "Identity", SUBTYPE, "pending")


def test_payamgostars_own_request_is_understood(client, ledger):
    """GET, no body, no User-Agent, form-encoded UTF-8 with + for spaces (payamgostar-api section 6)."""
    query = ("event=Update&id=880D8361-7560-45B7-9670-79D91257F59A&type=Quote"
             "&subtype=%D9%BE%DB%8C%D8%B4+%D9%81%D8%A7%DA%A9%D8%AA%D9%88%D8%B1+%DA%A9%D8%A7%D9%84%D8%A7"
             f"&token={SECRET}")
    response = client.get(f"/api/sync/salequote?{query}", headers={"User-Agent": ""})

    assert response.status_code == 200 and response.json() == {"stored": True}
    [row] = ledger.pending_events("salequote")
    assert (row.event, row.crm_id, row.crm_type, row.subtype) == ("Update", GUID, "Quote", "پیش فاکتور کالا")


def test_a_duplicate_is_stored_once_whatever_the_spelling_of_the_id(client, ledger):
    assert hook(client).json() == {"stored": True}
    assert hook(client, event="Update").json() == {"stored": False}
    assert hook(client, event="update", id=GUID.upper()).json() == {"stored": False}
    assert hook(client, id="{" + GUID + "}").json() == {"stored": False}

    [row] = ledger.pending_events("customer")
    assert row.deliveries == 4
    assert hook(client, "salequote", type="Quote").json() == {"stored": True}  # another source, another event
    assert hook(client, id=OTHER_GUID).json() == {"stored": True}
    assert ledger.count_events() == 3


def test_after_the_event_is_finished_a_new_update_is_stored_again(client, ledger):
    hook(client)
    [row] = ledger.pending_events("customer")
    ledger.finish_event(row.id, "done", run_id="manual__1")

    assert hook(client, event="Update").json() == {"stored": True}
    [again] = ledger.pending_events("customer")
    assert again.id != row.id and again.event == "Update"


@pytest.mark.parametrize("source", ["customer", "salequote"])
def test_airflow_is_notified_with_the_sources_asset(client, notifier, source):
    hook(client, source)
    hook(client, source, event="Update")  # a duplicate is announced too: a run may have read the record already

    assert notifier.calls == [
        (f"hamgam://payamgostar/{source}", {"source": source, "event": "Insert", "crm_id": GUID, "stored": True}),
        (f"hamgam://payamgostar/{source}", {"source": source, "event": "Update", "crm_id": GUID, "stored": False}),
    ]
    assert ASSET_URIS[source] == f"hamgam://payamgostar/{source}"


def test_a_failing_notification_does_not_change_the_answer(client, ledger, notifier, caplog):
    notifier.error = ConnectionError("Airflow's database is away")

    with caplog.at_level(logging.ERROR, logger="hamgam.webapp"):
        response = hook(client)

    assert response.status_code == 200 and response.json() == {"stored": True}
    assert len(notifier.calls) == 1
    assert ledger.count_events(status="pending") == 1
    assert "could not notify Airflow of customer Insert" in caplog.text
    assert "Airflow's database is away" in caplog.text


def test_a_ledger_that_cannot_be_opened_answers_503(notifier, tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'ledger.sqlite'}"
    app = create_app(ledger_url_resolver=lambda: url, secret_resolver=lambda: SECRET, notify=notifier)
    with make_client(app) as client:
        response = hook(client)
    assert response.status_code == 503
    assert notifier.calls == []


def test_the_token_is_never_logged(client, caplog):
    with caplog.at_level(logging.DEBUG):
        hook(client)
        hook(client, token=SECRET[:-1])
        hook(client, token=SECRET, id="bad")
        client.get("/api/inventory/999", params={"token": SECRET})

    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]  # httpx: the test's client
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in server_side)
    assert "refused GET /api/sync/customer" in text
    assert SECRET[:-1] not in text


def test_other_methods_and_sources_are_not_webhooks(client):
    assert client.post(f"/api/sync/customer?token={SECRET}&event=Insert&id={GUID}").status_code == 405
    assert hook(client, "invoice").status_code == 404


def test_the_events_summary(client):
    hook(client)
    hook(client, event="Update")
    hook(client, "salequote", type="Quote")

    assert client.get("/api/events").status_code == 401
    summary = client.get("/api/events", params={"token": SECRET}).json()
    assert summary["counts"] == {"pending": 2, "done": 0, "ignored": 0, "failed": 0}
    assert [(e["source"], e["deliveries"]) for e in summary["events"]] == [("salequote", 1), ("customer", 2)]
    only = client.get("/api/events", params={"token": SECRET, "source": "customer", "limit": "1"}).json()
    assert [e["source"] for e in only["events"]] == ["customer"] and only["counts"]["pending"] == 1
    assert client.get("/api/events", params={"token": SECRET, "source": "x"}).status_code == 400


def test_the_defaults_read_the_secret_and_the_ledger_from_airflow_connections(monkeypatch, tmp_path, notifier):
    """AIRFLOW_CONN_HAMGAM_WEBHOOK (its password) and AIRFLOW_CONN_HAMGAM_STATE, as in the demo."""
    from hamgam.ledger import Ledger

    monkeypatch.setenv("AIRFLOW_CONN_HAMGAM_WEBHOOK", json.dumps({"conn_type": "generic", "password": SECRET}))
    state = tmp_path / "hamgam_state.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_HAMGAM_STATE", json.dumps({"conn_type": "sqlite", "host": str(state)}))
    app = create_app(notify=notifier)

    with make_client(app) as client:
        assert hook(client, token="wrong").status_code == 401
        assert hook(client).json() == {"stored": True}
    app.state.ledgers.dispose()

    with Ledger.connect(f"sqlite:///{state}") as ledger:
        assert [r.crm_id for r in ledger.pending_events("customer")] == [GUID]


def test_the_secret_is_cached_briefly():
    calls = []

    def lookup():
        calls.append(1)
        return SECRET if len(calls) > 1 else None

    cached = Cached(lookup, ttl=0.2)
    assert cached() is None and cached() == SECRET and cached() == SECRET  # a miss is not kept
    assert len(calls) == 2
    import time

    time.sleep(0.25)
    assert cached() == SECRET and len(calls) == 3


# -- control characters: refused as a bad request, on every ledger backend ----------------------------------
@pytest.mark.parametrize("name", ["type", "subtype"])
@pytest.mark.parametrize("bad", ["\x00", "Iden\x00tity", "\x07", "a\nb", "a\x1bb", "a\x7fb", "a\x85b"])
def test_a_control_character_in_type_or_subtype_is_a_bad_request_on_every_backend(any_ledger_url, notifier,
                                                                                   name, bad):
    """A NUL cannot be stored in PostgreSQL (answering 503 'try again later' made the CRM retry for ever);
    other control characters would be stored verbatim. Both are refused with 400, naming the parameter."""
    app = create_app(ledger_url_resolver=lambda: any_ledger_url, secret_resolver=lambda: SECRET, notify=notifier)
    try:
        with make_client(app) as client:
            response = hook(client, **{name: bad})
            good = hook(client, id=OTHER_GUID)  # the ledger itself works
    finally:
        app.state.ledgers.dispose()

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert f"query parameter '{name}'" in detail and "control character" in detail
    assert good.status_code == 200 and good.json() == {"stored": True}
    assert [extra["crm_id"] for _, extra in notifier.calls] == [OTHER_GUID]
    from hamgam.ledger import Ledger

    with Ledger.connect(any_ledger_url) as ledger:
        assert [e.crm_id for e in ledger.pending_events("customer")] == [OTHER_GUID]


def test_persian_text_with_zero_width_non_joiner_is_not_a_control_character(client, ledger):
    subtype = "مخاطب\u200cهای حقیقی"  # ZWNJ is a format character Persian text needs, not a control one
    assert hook(client, subtype=subtype).json() == {"stored": True}
    assert ledger.pending_events("customer")[0].subtype == subtype


# -- the OpenAPI document shows what the endpoints read and answer -------------------------------------------
def _operation(client, path: str) -> dict:
    document = client.get("/openapi.json").json()
    return document["paths"][path]["get"]


@pytest.mark.parametrize("source", ["customer", "salequote"])
def test_the_openapi_document_lists_the_webhooks_parameters_and_answers(client, source):
    operation = _operation(client, f"/api/sync/{source}")
    parameters = {(p["name"], p["in"]): p for p in operation["parameters"]}
    assert {"token", "event", "id", "type", "subtype"} <= {name for name, where in parameters if where == "query"}
    for name in ("token", "event", "id", "type", "subtype"):
        assert parameters[(name, "query")].get("description"), name
    assert ("authorization", "header") in parameters  # the other way to give the secret
    assert {"200", "400", "401", "503"} <= set(operation["responses"])
    assert "secret" in operation["responses"]["401"]["description"]


def test_the_openapi_document_lists_the_inventory_and_events_parameters_and_answers(client):
    for path, names, answers in (
            ("/api/inventory", {"token", "exclude_warehouses", "fiscal_year"}, {"200", "400", "401", "404", "502"}),
            ("/api/inventory/{companyCode}", {"token", "exclude_warehouses", "fiscal_year"},
             {"200", "400", "401", "404", "502"}),
            ("/api/events", {"token", "source", "limit"}, {"200", "400", "401", "503"})):
        operation = _operation(client, path)
        query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert names <= query, (path, query)
        assert answers <= set(operation["responses"]), (path, operation["responses"].keys())
    company = _operation(client, "/api/inventory/{companyCode}")
    assert any(p["name"] == "companyCode" and p["in"] == "path" for p in company["parameters"])
