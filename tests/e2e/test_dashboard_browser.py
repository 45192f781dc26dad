"""The hamgam page in a real browser against a real Airflow API server (issue 14's acceptance test).

Debian's chromium (/usr/bin/chromium, ``apt-get install -y chromium``), driven headless by Playwright (never a
downloaded browser), logs in on Airflow's own login page, opens the hamgam page, reads counts equal to the
ledger's, opens the set-aside sales invoices, fixes one in the demo Tadbir, resends it from the page (the
confirmation accepted), and sees it synced once the run its resend triggered is done. Anonymous requests get
a redirect to the login (the page) or 401 (its data API). Screenshots go to a temporary folder, or to
$HAMGAM_SCREENSHOTS (`HAMGAM_SCREENSHOTS=docs/screenshots` refreshes the README's).

The DAGs run only when triggered here (no schedule, no event-driven watchers), so the run after the resend is
the one the page triggered as the logged-in user.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from hamgam.entities import SPECS
from hamgam.ledger import Ledger
from hamgam_dev.devenv import airflow_env

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# what /work/.library/env/machines/python-svc.md starts Chromium with here: root needs --no-sandbox, and the
# closed network refuses Chromium's own background connections
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# the README's pictures are refreshed with HAMGAM_SCREENSHOTS=docs/screenshots; otherwise a run (CI's) writes
# them into a temporary folder and leaves the checkout as it was
SCREENSHOTS = Path(os.environ.get("HAMGAM_SCREENSHOTS") or tempfile.mkdtemp(prefix="hamgam-screenshots-"))
ENTITY = "sales_invoices"
DAG_ID = SPECS[ENTITY].dag_id
WAIT = 300.0
_T = TypeVar("_T")


def wait_for(what: str, probe: Callable[[], _T | None], timeout: float = WAIT, every: float = 0.5) -> _T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


@dataclass
class PageWorld:
    server: Any
    data: Path

    def ledger(self) -> Ledger:
        return Ledger.connect(f"sqlite:///{self.data / 'hamgam_state.sqlite'}")

    def tadbir(self, company: int) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "demo" / f"tadbir_{company}.sqlite")

    def run_and_wait(self, count: int) -> dict:
        runs = self.server.wait_for_runs(DAG_ID, count, timeout=WAIT)
        assert all(r["state"] == "success" for r in runs), (runs, self.server.log_tail())
        return runs[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageWorld]:
    from hamgam.dagbuilder import CRM_POOL
    from hamgam.executor import FAST_SETTINGS
    from hamgam_dev.airflow_server import AirflowServer, free_port
    from hamgam_dev.freshness import world_settings
    from pg_sandbox.testing import run_sandbox
    from tadbir_demo import build_demo

    tmp = tmp_path_factory.mktemp("dashboard")
    data = tmp / "data"
    build_demo(data / "demo")
    config = world_settings(tmp, schedule=None, event_driven=False)
    sandbox_port = free_port()
    env = {**airflow_env(data, sandbox_url=f"http://127.0.0.1:{sandbox_port}", airflow_home=tmp / "airflow",
                         crm_max_attempts=3), **FAST_SETTINGS, "HAMGAM_CONFIG": str(config)}
    with ExitStack() as stack:
        stack.enter_context(run_sandbox(data / "sandbox.sqlite", port=sandbox_port, latency_ms=5))
        server = stack.enter_context(AirflowServer(env))
        server.api("POST", "/pools", json={"name": CRM_POOL, "slots": 8, "description": "Payamgostar CRM"})
        server.unpause(DAG_ID)
        server.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        world = PageWorld(server, data)
        world.run_and_wait(1)
        yield world


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the test never downloads a browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
    print(f"screenshot: {SCREENSHOTS / f'{name}.png'}")


def log_in(page: Any, world: PageWorld, path: str) -> None:
    """Open ``path`` anonymously: Airflow's login page comes, and after signing in the browser is back."""
    page.goto(f"{world.server.base_url}{path}")
    page.wait_for_url(re.compile(r"/auth/login"))
    username, password = world.server.admin_password()
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(path.split("?")[0]) + r"(\?.*)?$"))


def ledger_counts(world: PageWorld, company: int, entity: str) -> dict[str, int]:
    with world.ledger() as ledger:
        by_status = ledger.counts_by_status(company, entity)
        queued = ledger.pending_count(company, entity)
    return {"synced": by_status.get("synced", 0), "queued": queued,
            **{s: by_status.get(s, 0) for s in ("invalid", "rejected", "skipped", "failed")}}


def page_counts(page: Any, company: int, entity: str) -> dict[str, int]:
    return {name: int(page.get_by_test_id(f"count-{company}-{entity}-{name}").inner_text())
            for name in ("synced", "queued", "invalid", "rejected", "skipped", "failed")}


def fix_totals(world: PageWorld, company: int, key: str, row_ids: list[int], reason: str) -> None:
    """What a person does in Tadbir: the header Total set to the sum of its lines, as the reason says (row ids
    are per fiscal period: the key's year names it)."""
    lines_total = int(re.search(r"Σ lines (\d+)", reason).group(1))  # type: ignore[union-attr]
    year = int(key.split("/")[0])
    with world.tadbir(company) as conn:
        changed = conn.execute(
            f"UPDATE __SPFactor__ SET Total = ? WHERE Id IN ({','.join('?' * len(row_ids))}) "
            "AND FPId = (SELECT Id FROM __FiscalPeriod__ WHERE FPNo = ?)", [lines_total, *row_ids, year]).rowcount
    assert changed == len(row_ids)


def test_anonymous_requests_get_the_login_or_401(world):
    base = world.server.base_url
    page = requests.get(f"{base}/hamgam/", allow_redirects=False, timeout=30)
    assert page.status_code == 303 and "/auth/login" in page.headers["location"]
    for path in ("/hamgam/api/dashboard/overview", "/hamgam/api/dashboard/records",
                 "/hamgam/api/dashboard/records.csv", "/hamgam/api/dashboard/events"):
        assert requests.get(f"{base}{path}", timeout=30).status_code == 401, path
        assert requests.get(f"{base}{path}", cookies={"_token": "forged"}, timeout=30).status_code in (401, 403)
    assert requests.post(f"{base}/hamgam/api/dashboard/resend", json={"filter": {}},
                         headers={"X-Hamgam-Confirmed": "yes"}, timeout=30).status_code == 401
    # the API with Airflow's own token works (the same check Airflow's API makes)
    token = world.server.token()
    answer = requests.get(f"{base}/hamgam/api/dashboard/overview", headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    assert answer.status_code == 200, answer.text
    # only the webhooks take the shared secret instead
    assert requests.get(f"{base}/hamgam/api/sync/customer", params={"event": "Insert", "id": "x"},
                        timeout=30).status_code == 401
    # the docs work without anything from outside
    docs = requests.get(f"{base}/hamgam/docs", timeout=30)
    assert docs.status_code == 200 and "/api/sync/customer" in docs.text and "cdn" not in docs.text.lower()


def test_log_in_see_the_ledgers_counts_and_resend_a_fixed_record(world, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, world, "/hamgam/")
    assert page.get_by_test_id("user").inner_text() == world.server.admin_password()[0]
    for company in (100, 200):
        assert page_counts(page, company, ENTITY) == ledger_counts(world, company, ENTITY)
    shot(page, "hamgam-overview")

    # the set-aside sales invoices: the first whose header totals differ from its lines
    page.goto(f"{world.server.base_url}/hamgam/?entity={ENTITY}&q=header+totals#need-a-person")
    rows = page.locator("#records tr[data-testid^=record-]")
    assert rows.count() > 0, "the demo sets aside sales invoices whose totals do not add up"
    first = rows.first
    test_id = first.get_attribute("data-testid")
    company, key = int(test_id.split("-")[1]), test_id.split("-", 3)[3]
    cells = first.locator("td")
    reason, row_ids = cells.nth(3).inner_text(), [int(i) for i in cells.nth(5).inner_text().split()]
    with world.ledger() as ledger:
        [problem] = [p for p in ledger.problems(company, ENTITY) if p.tadbir_key == key]
    assert reason == problem.last_error  # the sentence the run's report prints
    assert row_ids, "detection placed the record: its Tadbir row id is on the page"
    shot(page, "hamgam-records")

    fix_totals(world, company, key, row_ids, reason)
    page.on("dialog", lambda dialog: dialog.accept())  # "Send ... to the CRM again?"
    first.get_by_role("button", name="resend").click()
    message = page.get_by_test_id("message")
    message.wait_for(state="visible")
    assert page.get_by_test_id("message").get_attribute("data-state") == "done", message.inner_text()
    assert "1 record(s) queued again" in message.inner_text() and DAG_ID in message.inner_text()

    world.run_and_wait(2)  # the run the page triggered, as the logged-in user
    with world.ledger() as ledger:
        assert ledger.get(company, ENTITY, key).status == "synced"
    page.goto(f"{world.server.base_url}/hamgam/?entity={ENTITY}")
    assert page.locator(f'#records tr[data-testid="{test_id}"]').count() == 0
    assert page_counts(page, company, ENTITY) == ledger_counts(world, company, ENTITY)
    shot(page, "hamgam-after-resend")

    runs = world.server.dag_runs(DAG_ID)
    assert runs[-1]["run_type"] == "manual"
    events = world.server.api("GET", "/eventLogs", params={"event": "hamgam.resend", "limit": 10})["event_logs"]
    assert [e["owner"] for e in events] == [world.server.admin_password()[0]]

    # the page inside Airflow's UI, under its navigation entry
    page.goto(f"{world.server.base_url}/plugin/hamgam")
    page.frame_locator("iframe").get_by_test_id("user").wait_for()
    shot(page, "hamgam-in-airflow")
    context.close()


def test_the_csv_download_matches_the_list(world, browser):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, world, f"/hamgam/?entity={ENTITY}")
    listed = page.locator("#records tr[data-testid^=record-]").count()
    with page.expect_download() as download:
        page.get_by_test_id("csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert listed > 0 and len(rows) == listed
    assert {r["entity"] for r in rows} == {ENTITY}
    context.close()

