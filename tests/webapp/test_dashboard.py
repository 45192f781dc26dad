"""The hamgam page's data and actions (API level): counts equal the ledger's, anonymous callers are refused,
resend queues and triggers as the logged-in user, the CSV holds what the filter shows, /docs works offline.

The Airflow side (who is logged in, triggering, the audit log) is replaced by recorders here; the browser test
(tests/e2e/test_dashboard_browser.py) runs it all against a real Airflow API server."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import HTTPException
from webapp_support import GUID, SECRET, make_client

from hamgam.dashboard.overview import SHOWN
from hamgam.entities import SPECS
from hamgam.ledger import Ledger
from hamgam.ledger.detect_state import DetectState, RangeState
from hamgam.webapp import create_app

TOKEN = "token-of-alice"
VIEWER_TOKEN = "token-of-victor"
AS_ALICE = {"Authorization": f"Bearer {TOKEN}"}
CONFIRMED = {**AS_ALICE, "X-Hamgam-Confirmed": "yes"}
BAD_TOTALS = "sales_invoice 100-1403/9 (Id 15): header totals differ from the sum of the lines (1,000 ≠ 1,200)"


@dataclass(frozen=True)
class User:
    name: str

    def get_name(self) -> str:
        return self.name


def alice_only(token: str) -> User:
    if token == TOKEN:
        return User("alice")
    if token == VIEWER_TOKEN:
        return User("victor")  # may look, may not run DAGs
    raise HTTPException(403, "Invalid JWT token")


def may_run(viewer: Any, dag_id: str) -> bool:
    return viewer.name == "alice"


class Airflow:
    """Records what the page asked of Airflow: triggered runs and audit log lines."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, dict]] = []
        self.audit: list[tuple[str, str, str | None, dict]] = []

    def trigger(self, request: Any, viewer: Any, dag_id: str, conf: dict, note: str) -> dict:
        self.runs.append((viewer.name, dag_id, conf))
        return {"dag_run_id": f"manual__{len(self.runs)}"}

    def record(self, viewer: Any, event: str, dag_id: str | None, extra: dict) -> None:
        self.audit.append((viewer.name, event, dag_id, extra))


@pytest.fixture
def ledger_url(any_ledger_url: str) -> str:
    """Every test on SQLite and on PostgreSQL (the ledger's aggregates come back differently typed)."""
    return any_ledger_url


@pytest.fixture
def airflow() -> Airflow:
    return Airflow()


@pytest.fixture
def client(ledger_url: str, airflow: Airflow) -> Iterator[Any]:
    app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=lambda: SECRET,
                     notify=lambda *_: None, user_resolver=alice_only, may_run=may_run, trigger=airflow.trigger,
                     audit=airflow.record, login_url=lambda next_url: f"/auth/login?next={next_url}")
    with make_client(app) as client:
        yield client
    app.state.ledgers.dispose()


@pytest.fixture
def world(ledger: Ledger) -> Ledger:
    """Records of every status the page counts, a queue, runs and a webhook event."""
    for n in range(3):
        ledger.record_outcome(100, "identities", f"1000{n}", status="synced", crm_id=f"crm-{n}", content_hash="h")
    ledger.record_outcome(100, "identities", "10009", status="invalid", content_hash="h",
                          error="identity 100-10009: no name")
    ledger.record_outcome(100, "sales_invoices", "1403/9", status="invalid", content_hash="h9", error=BAD_TOTALS)
    ledger.record_outcome(100, "sales_invoices", "1404/3", status="rejected", content_hash="h3",
                          error="sales_invoice 100-1404/3: customer 100-10777 is not in the CRM")
    ledger.record_outcome(200, "sales_invoices", "1404/4", status="failed", content_hash="h4",
                          error="sales_invoice 200-1404/4: the CRM answered 500")
    ledger.record_outcome(200, "sales_invoices", "1404/5", status="skipped", content_hash="h5",
                          error="sales_invoice 200-1404/5: cancelled")
    ledger.record_outcome(200, "sales_invoices", "1404/6", status="synced", crm_id="crm-6", crm_number="S-6")
    ledger.queue_changes(100, "sales_invoices", [("1404/7", "upsert", "h7"), ("1404/8", "delete", None)], "r1")
    run = ledger.start_run("tadbir_to_payamgostar__sales_invoices", "manual__1", 100, "sales_invoices")
    ledger.finish_run(run, "success", {"created": 1})
    ledger.start_run("tadbir_to_payamgostar__sales_invoices", "manual__2", 100, "sales_invoices")
    ledger.store_event("customer", "Update", GUID)
    # detection saw 1403/9 in range 0 of fiscal period 7 (row ids 15 and 16)
    DetectState(ledger).save(100, "sales_invoices", "basis-1", [RangeState(7, 0, "a", "b", {"1403/9": [15, 16]})])
    return ledger


def _ledger_counts(ledger: Ledger, company: int, entity: str) -> dict[str, int]:
    by_status = ledger.counts_by_status(company, entity)
    return {name: by_status.get(name, 0) for name in SHOWN} | {"queued": ledger.pending_count(company, entity)}


def test_the_overview_counts_equal_the_ledgers(client, world):
    answer = client.get("/api/dashboard/overview", headers=AS_ALICE)
    assert answer.status_code == 200, answer.text
    rows = {(r["company"], r["entity"]): r for r in answer.json()["rows"]}
    assert (100, "identities") in rows and (200, "sales_invoices") in rows
    for (company, entity), row in rows.items():
        assert row["counts"] == _ledger_counts(world, company, entity), (company, entity)
        assert row["dag_id"] == SPECS[entity].dag_id
    invoices = rows[(100, "sales_invoices")]
    assert invoices["counts"] == {"synced": 0, "queued": 2, "invalid": 1, "rejected": 1, "skipped": 0, "failed": 0}
    assert invoices["oldest_queued_at"] is not None and invoices["oldest_queued_age_seconds"] >= 0
    assert invoices["last_success_at"] is not None and invoices["freshness_lag_seconds"] >= 0
    assert invoices["last_run"]["run_id"] == "manual__2" and invoices["last_run"]["state"] == "running"
    assert rows[(100, "quotes")]["last_success_at"] is None


def test_the_page_shows_the_ledgers_counts_and_the_reports_sentence(client, world):
    page = client.get("/", headers=AS_ALICE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name, n in _ledger_counts(world, 100, "sales_invoices").items():
        assert f'data-testid="count-100-sales_invoices-{name}">{n}</td>' in page.text
    assert "1,000 ≠ 1,200" in page.text  # the reason, as the report prints it
    assert "logged in to Airflow as" in page.text and ">alice<" in page.text
    assert not re.search(r"""(src|href)=["']https?://""", page.text), "the page must fetch nothing from outside"


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/dashboard/overview"), ("get", "/api/dashboard/records"), ("get", "/api/dashboard/records.csv"),
    ("get", "/api/dashboard/events"), ("get", "/api/dashboard/chart.svg"), ("post", "/api/dashboard/resend"),
    ("post", "/api/dashboard/transfer-all")])
def test_anonymous_and_wrong_tokens_get_nothing(client, world, airflow, method, path):
    assert getattr(client, method)(path).status_code == 401
    assert getattr(client, method)(path, headers={"Authorization": "Bearer forged"}).status_code == 403
    client.cookies.set("_token", "forged")
    assert getattr(client, method)(path).status_code == 403
    client.cookies.clear()
    # the webhook secret is not an Airflow login
    assert getattr(client, method)(path, headers={"Authorization": f"Bearer {SECRET}"}).status_code == 403
    assert airflow.runs == [] and airflow.audit == []


def test_the_page_sends_an_anonymous_visitor_to_airflows_login(client, world):
    answer = client.get("/?entity=quotes", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/login?next=http://testserver/?entity=quotes"


def test_the_session_cookie_logs_in_as_well(client, world):
    client.cookies.set("_token", TOKEN)
    assert client.get("/api/dashboard/overview").status_code == 200


def test_records_are_filtered_by_company_entity_status_year_and_text(client, world):
    def keys(**params: str) -> list[tuple[int, str]]:
        answer = client.get("/api/dashboard/records", params=params, headers=AS_ALICE)
        assert answer.status_code == 200, answer.text
        return [(r["company"], r["tadbir_key"]) for r in answer.json()["records"]]

    assert keys() == [(100, "10009"), (100, "1403/9"), (100, "1404/3"), (200, "1404/4")]
    assert keys(company="200") == [(200, "1404/4")]
    assert keys(entity="identities") == [(100, "10009")]
    assert keys(status="rejected") == [(100, "1404/3")]
    assert keys(status="skipped") == [(200, "1404/5")]
    assert keys(fiscal_year="1403") == [(100, "1403/9")]
    assert keys(q="TOTALS DIFFER") == [(100, "1403/9")]
    [record] = client.get("/api/dashboard/records", params={"fiscal_year": "1403"}, headers=AS_ALICE
                          ).json()["records"]
    assert record["reason"] == BAD_TOTALS and record["tadbir_ids"] == "15 16" and record["fiscal_year"] == 1403
    assert record["first_seen"] and record["last_tried"]
    assert client.get("/api/dashboard/records", params={"status": "synced"}, headers=AS_ALICE).status_code == 400
    assert "fiscal_year" in client.get("/api/dashboard/records", params={"fiscal_year": "x"},
                                       headers=AS_ALICE).json()["detail"]


def test_the_csv_holds_what_the_filter_shows(client, world):
    answer = client.get("/api/dashboard/records.csv", params={"entity": "sales_invoices"}, headers=AS_ALICE)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [(r["company"], r["tadbir_key"], r["status"]) for r in rows] == [
        ("100", "1403/9", "invalid"), ("100", "1404/3", "rejected"), ("200", "1404/4", "failed")]
    assert rows[0]["reason"] == BAD_TOTALS and rows[0]["tadbir_ids"] == "15 16"


def test_resend_of_one_record_queues_it_and_triggers_its_dag_as_the_user(client, world, airflow):
    answer = client.post("/api/dashboard/resend", headers=CONFIRMED,
                         json={"company": 100, "entity": "sales_invoices", "keys": ["1403/9"]})
    assert answer.status_code == 200, answer.text
    assert world.get(100, "sales_invoices", "1403/9").content_hash is None  # detection judges it again
    assert world.get(100, "sales_invoices", "1404/3").content_hash == "h3"  # others are left alone
    assert DetectState(world).again(100, "sales_invoices", [7]) == [(7, 0)]  # its range is read again
    assert airflow.runs == [("alice", "tadbir_to_payamgostar__sales_invoices", {})]
    [(user, event, dag_id, extra)] = airflow.audit
    assert (user, event, dag_id) == ("alice", "hamgam.resend", "tadbir_to_payamgostar__sales_invoices")
    assert extra["keys"] == {"100 sales_invoices": ["1403/9"]} and extra["records"] == {"100 sales_invoices": 1}
    assert "1 record(s) queued again" in answer.json()["message"]


def test_resend_of_a_filter_queues_every_record_it_shows(client, world, airflow):
    answer = client.post("/api/dashboard/resend", headers=CONFIRMED, json={"filter": {"fiscal_year": "1404"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["queued"] == {"100 sales_invoices": 1, "200 sales_invoices": 1}
    assert world.get(100, "sales_invoices", "1404/3").content_hash is None
    assert world.get(200, "sales_invoices", "1404/4").content_hash is None
    assert world.get(100, "sales_invoices", "1403/9").content_hash == "h9"
    assert [dag for _, dag, _ in airflow.runs] == ["tadbir_to_payamgostar__sales_invoices"]  # one run per entity


def test_an_action_without_the_confirmation_header_does_nothing(client, world, airflow):
    answer = client.post("/api/dashboard/resend", headers=AS_ALICE,
                         json={"company": 100, "entity": "sales_invoices", "keys": ["1403/9"]})
    assert answer.status_code == 400 and "X-Hamgam-Confirmed" in answer.json()["detail"]
    assert world.get(100, "sales_invoices", "1403/9").content_hash == "h9"
    assert airflow.runs == [] and airflow.audit == []


def test_a_user_who_may_not_run_the_dag_changes_nothing(client, world, airflow):
    as_victor = {"Authorization": f"Bearer {VIEWER_TOKEN}", "X-Hamgam-Confirmed": "yes"}
    assert client.get("/api/dashboard/overview", headers=as_victor).status_code == 200  # may look
    answer = client.post("/api/dashboard/resend", headers=as_victor, json={"filter": {}})
    assert answer.status_code == 403 and "victor may not trigger" in answer.json()["detail"]
    assert client.post("/api/dashboard/transfer-all", headers=as_victor, json={"entity": "quotes"}).status_code == 403
    assert world.get(100, "sales_invoices", "1403/9").content_hash == "h9"
    assert airflow.runs == [] and airflow.audit == []


def test_transfer_all_triggers_the_full_resync_and_is_audited(client, world, airflow):
    answer = client.post("/api/dashboard/transfer-all", headers=CONFIRMED, json={"entity": "quotes"})
    assert answer.status_code == 200, answer.text
    assert airflow.runs == [("alice", "tadbir_to_payamgostar__quotes", {"full_resync": True})]
    assert airflow.audit[0][:3] == ("alice", "hamgam.transfer_all", "tadbir_to_payamgostar__quotes")
    bad = client.post("/api/dashboard/transfer-all", headers=CONFIRMED, json={"entity": "nonsense"})
    assert bad.status_code == 400 and "entity must be one of" in bad.json()["detail"]


def test_the_event_log_counts_per_status(client, world):
    data = client.get("/api/dashboard/events", headers=AS_ALICE).json()
    assert data["counts"] == {"received": 1, "pending": 1, "done": 0, "ignored": 0, "failed": 0}
    assert data["events"][0]["crm_id"] == GUID


def test_the_chart_counts_synced_per_hour_and_set_aside_per_day(client, world):
    answer = client.get("/api/dashboard/chart.svg", headers=AS_ALICE)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    assert ">sales_invoices</text>" in answer.text and ">identities</text>" in answer.text
    assert "<title>3 synced</title>" in answer.text  # identities: three created this hour
    assert "<title>3 set aside</title>" in answer.text  # sales invoices: invalid, rejected, failed today


def test_the_docs_page_works_offline(client):
    answer = client.get("/docs")
    assert answer.status_code == 200
    assert "/api/sync/customer" in answer.text and "/api/dashboard/resend" in answer.text
    assert "<script" not in answer.text and not re.search(r"""(src|href)=["']https?://""", answer.text)


def test_outside_airflow_the_page_says_it_needs_airflows_login(ledger_url):
    """``python -m hamgam.webapp`` has no auth manager (Airflow's resolver raises, not an HTTP error): the page and
    its data are refused with the reason."""
    def no_auth_manager(token: str) -> User:
        raise RuntimeError("auth manager not initialized")

    app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=lambda: SECRET, notify=lambda *_: None,
                     user_resolver=no_auth_manager)
    with make_client(app) as client:
        answer = client.get("/api/dashboard/overview", headers=AS_ALICE)
        assert answer.status_code == 503 and "Airflow's login" in answer.json()["detail"]
        assert client.get("/api/dashboard/overview").status_code == 401
    app.state.ledgers.dispose()


def test_outside_airflow_the_page_has_no_login_to_send_an_anonymous_visitor_to(ledger_url):
    def no_login_page(next_url: str) -> str:
        raise RuntimeError("auth manager not initialized")

    app = create_app(ledger_url_resolver=lambda: ledger_url, secret_resolver=lambda: SECRET, notify=lambda *_: None,
                     login_url=no_login_page)
    with make_client(app) as client:
        answer = client.get("/", follow_redirects=False)
        assert answer.status_code == 503 and "Airflow's login" in answer.json()["detail"]
    app.state.ledgers.dispose()


def test_the_freshness_lag_is_the_one_the_emails_and_metrics_use(client, world):
    from datetime import datetime

    from hamgam.freshness import freshness_lag

    rows = {(r["company"], r["entity"]): r for r in client.get("/api/dashboard/overview", headers=AS_ALICE).json()["rows"]}
    for (company, entity), row in rows.items():
        at = datetime.fromisoformat(client.get("/api/dashboard/overview", headers=AS_ALICE).json()["at"])
        expected = freshness_lag(world, company, entity, at)
        if expected is None:
            assert row["freshness_lag_seconds"] is None, (company, entity)
        else:  # the page's reading came a moment before `at`
            assert 0 <= expected.total_seconds() - row["freshness_lag_seconds"] < 60, (company, entity)
    # queued changes count: sales invoices of 100 are as stale as their oldest queued change at least
    invoices = rows[(100, "sales_invoices")]
    assert invoices["freshness_lag_seconds"] >= invoices["oldest_queued_age_seconds"] - 1


def test_the_latest_drift_report_is_on_the_page_and_in_its_api(client, world):
    from hamgam.ledger.models import DriftReport

    assert client.get("/api/dashboard/drift", headers=AS_ALICE).json() is None
    assert 'data-testid="drift-none"' in client.get("/", headers=AS_ALICE).text
    row = {"company": 100, "entity": "sales_invoices", "fiscal_year": 1404,
           "tadbir": {"count": 3, "amount": 3000}, "ledger": {"count": 3, "amount": 3000},
           "crm": {"count": 2, "amount": 2000},
           "differences": {"missing_in_crm": [{"key": "1404/6", "number": "100-1404/6", "explained": None}]},
           "difference_counts": {"missing_in_crm": 1}, "unexplained": ["1404/6"]}
    with world.engine.begin() as conn:
        conn.execute(DriftReport.__table__.insert().values(dag_id="hamgam_drift_report", run_id="manual__d1",
                                                          unexplained=1, report=[row]))
    answer = client.get("/api/dashboard/drift", headers=AS_ALICE).json()
    assert answer["run_id"] == "manual__d1" and answer["unexplained"] == 1 and answer["rows"] == [row]
    page = client.get("/", headers=AS_ALICE).text
    assert 'data-testid="drift-unexplained">1</b>' in page and "1404/6" in page and "Σ 3,000" in page
    assert client.get("/api/dashboard/drift").status_code == 401  # behind Airflow's login, as the rest


def test_resend_all_asks_about_every_record_of_the_filter_not_only_those_listed():
    from datetime import UTC, datetime
    from html import unescape

    from hamgam.dashboard import page, records

    def listed(n: int) -> list[records.PersonRecord]:
        now = datetime.now(UTC)
        return [records.PersonRecord(100, "identities", "invalid", "no name", f"1{i:04}", "", None, None, None,
                                     now, now) for i in range(n)]

    few = unescape(page.records_table(listed(3), records.RecordFilter(), 500))
    assert "Send all 3 record(s) of this filter to the CRM again?" in few
    capped = unescape(page.records_table(listed(500), records.RecordFilter(), 500))
    assert "Send all 500 record(s)" not in capped
    assert f"more than the 500 listed; up to {records.MAX_ROWS} at a time" in capped
