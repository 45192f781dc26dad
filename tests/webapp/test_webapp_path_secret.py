"""The shared secret as a path segment (``/api/sync/<secret>/customer``): for a CRM that will not append its
parameters to a URL that already has ``?token=``. Accepted, refused when wrong, masked in every access log."""

from __future__ import annotations

import logging

import pytest
import structlog
from starlette.applications import Starlette
from starlette.routing import Mount
from webapp_support import GUID, SECRET, make_client

from hamgam.webapp.__main__ import MaskedAccessLog
from hamgam.webapp.api import mask_path
from hamgam.webapp.events import ASSET_URIS

PARAMS = {"event": "Insert", "id": GUID, "type": "Identity", "subtype": "مخاطب حقیقی"}


@pytest.mark.parametrize("source", sorted(ASSET_URIS))
def test_the_secret_in_the_path_is_accepted_on_every_webhook(client, ledger, notifier, source):
    response = client.get(f"/api/sync/{SECRET}/{source}", params=PARAMS)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": True}
    assert [uri for uri, _ in notifier.calls] == [ASSET_URIS[source]]
    assert [e.crm_id for e in ledger.events(source=source)] == [GUID]


@pytest.mark.parametrize("given", ["wrong", SECRET + "x", SECRET[:-1], SECRET.upper()])
def test_a_wrong_secret_in_the_path_is_refused_and_nothing_is_stored(client, ledger, notifier, given):
    response = client.get(f"/api/sync/{given}/customer", params=PARAMS)
    assert response.status_code == 401
    assert ledger.events() == [] and notifier.calls == []


def test_a_wrong_secret_in_the_path_is_not_rescued_by_a_right_token(client, ledger):
    response = client.get("/api/sync/wrong/customer", params={**PARAMS, "token": SECRET})
    assert response.status_code == 401
    assert ledger.events() == []


def test_mask_path_hides_only_the_secret_segment():
    assert mask_path(f"/hamgam/api/sync/{SECRET}/customer") == "/hamgam/api/sync/***/customer"
    assert mask_path(f"/api/sync/{SECRET}/salequote") == "/api/sync/***/salequote"
    assert mask_path("/api/sync/customer") == "/api/sync/customer"
    assert mask_path("/api/inventory/100") == "/api/inventory/100"


def test_the_secret_in_the_path_is_masked_in_hamgams_access_log_and_its_own_lines(app, caplog):
    with caplog.at_level(logging.DEBUG), make_client(MaskedAccessLog(app)) as client:
        assert client.get(f"/api/sync/{SECRET}/customer", params=PARAMS).status_code == 200
        assert client.get(f"/api/sync/{SECRET[:-1]}/customer", params=PARAMS).status_code == 401
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]  # httpx: the test's client
    text = "\n".join(r.getMessage() for r in server_side)
    access = [r.getMessage() for r in server_side if r.name == "hamgam.webapp.access"]
    assert len(access) == 2 and all('"GET /api/sync/***/customer?' in line for line in access), access
    assert "refused GET /api/sync/***/customer" in text
    assert SECRET[:-1] not in text


def test_the_secret_in_the_path_is_masked_in_airflows_access_log(app):
    """Mounted as the Airflow plugin mounts it (at /hamgam), under the API server's own access log."""
    from airflow.api_fastapi.common.http_access_log import HttpAccessLogMiddleware

    server = HttpAccessLogMiddleware(Starlette(routes=[Mount("/hamgam", app=app)]))
    with structlog.testing.capture_logs() as logged, make_client(server) as client:
        assert client.get(f"/hamgam/api/sync/{SECRET}/customer", params=PARAMS).status_code == 200
        assert client.get(f"/hamgam/api/sync/{SECRET[:-1]}/salequote", params=PARAMS).status_code == 401
    paths = [entry["path"] for entry in logged if entry.get("event") == "request finished"]
    assert paths == ["/hamgam/api/sync/***/customer", "/hamgam/api/sync/***/salequote"]
    assert SECRET[:-1] not in repr(logged)
