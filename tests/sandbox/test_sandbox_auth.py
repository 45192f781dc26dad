"""Login (§2.1) and bearer-token checks."""

import base64
import json
import re
import time
from datetime import datetime, timedelta

import requests
from sandbox_helpers import assert_error, login, person

EXPIRES_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+03:30$")


def test_login_returns_tokens_that_expire_in_two_hours_tehran_time(pg):
    response = login(pg.base_url)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "refreshToken", "expiresAt"}
    assert EXPIRES_AT.match(body["expiresAt"]), body["expiresAt"]
    lifetime = datetime.fromisoformat(body["expiresAt"]) - datetime.now().astimezone()
    assert timedelta(seconds=7100) < lifetime <= timedelta(seconds=7200)
    header, claims, _ = body["accessToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["iss"] == "PayamGostar.com" and claims["exp"] - claims["nbf"] == 7200


def test_login_accepts_pascal_case_keys(pg):
    body = {"Username": "hamgam", "Password": "hamgam-demo", "DeviceId": "sdk", "PlatformType": 3}
    response = requests.post(f"{pg.base_url}/api/v2/auth/login", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_wrong_password_is_401(pg):
    assert_error(login(pg.base_url, password="wrong"), 401, "invalid_grant")


def test_missing_password_is_400(pg):
    assert_error(login(pg.base_url, password=None), 400, "required", mentions="password")


def test_call_without_token_is_401(api):
    response = api.post("crmobject/person/find", {}, token=None)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_call_with_unknown_token_is_401(api):
    assert_error(api.post("crmobject/person/find", {}, token="not-a-token"), 401, "unauthorized")


def test_call_with_other_scheme_is_401(api):
    response = api.post("crmobject/person/find", {}, token=None, headers={"Authorization": f"Basic {api.token}"})
    assert_error(response, 401)


def test_expired_token_is_401(pg, api):
    pg.set_faults(token_ttl_seconds=0.4)
    short_lived = login(pg.base_url).json()["accessToken"]
    assert api.post("crmobject/person/find", {}, token=short_lived).status_code == 200

    time.sleep(0.6)

    body = assert_error(api.post("crmobject/person/find", {}, token=short_lived), 401)
    assert "expired" in body["error_description"]
    assert api.post("crmobject/person/find", {}).status_code == 200  # the long-lived token still works


def test_revoked_tokens_are_401_until_login_again(pg, api):
    api.create("person", person())
    pg.revoke_tokens()

    assert_error(api.post("crmobject/person/create", person()), 401)
    api.token = login(pg.base_url).json()["accessToken"]
    api.create("person", person())
