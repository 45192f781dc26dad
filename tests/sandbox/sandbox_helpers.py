"""Helpers for the sandbox tests: a tiny REST v2 caller and request bodies."""

import itertools
import uuid
from typing import Any

import requests

from pg_sandbox.settings import SandboxSettings

ERROR_KEYS = {"error", "errorMessage", "error_description"}
_numbers = itertools.count(1)


class Api:
    """Minimal REST v2 caller: POST JSON with the bearer token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.token = token

    def post(self, path: str, body: Any, token: str | None = "default",
             headers: dict[str, str] | None = None) -> requests.Response:
        """POST `body`; `token=None` sends no Authorization header unless `headers` has one."""
        token = self.token if token == "default" else token
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return requests.post(f"{self.base_url}/api/v2/{path}", json=body, headers=headers, timeout=10)

    def ok(self, path: str, body: Any) -> Any:
        response = self.post(path, body)
        assert response.status_code == 200, response.text
        return response.json() if response.content else None

    def create(self, kind: str, body: dict[str, Any]) -> str:
        return self.ok(f"crmobject/{kind}/create", body)["crmId"]

    def get(self, kind: str, crm_id: str) -> dict[str, Any]:
        return self.ok(f"crmobject/{kind}/get", {"id": crm_id})

    def find(self, kind: str, *queries: tuple[str, int, str], **model: Any) -> dict[str, Any]:
        body = {"queries": [{"field": f, "operator": op, "value": v} for f, op, v in queries], **model}
        return self.ok(f"crmobject/{kind}/find", body)


def login(base_url: str, **overrides: Any) -> requests.Response:
    body = {"username": SandboxSettings.username, "password": SandboxSettings.password,
            "deviceId": "hamgam-tests", "platformType": 2, "os": "Linux", "osVersion": "1.0", "token": "",
            **overrides}
    return requests.post(f"{base_url}/api/v2/auth/login", json=body, timeout=10)


def unique_number() -> str:
    """A customer number no other test uses (the CRM keeps them unique)."""
    return f"{uuid.uuid4().int % 10**6:06d}{next(_numbers):04d}"


def person(**fields: Any) -> dict[str, Any]:
    return {"crmObjectTypeCode": "person", "firstName": "علی", "lastName": "رضایی",
            "customerNumber": unique_number(), **fields}


def organization(**fields: Any) -> dict[str, Any]:
    return {"crmObjectTypeCode": "organization", "nickName": "شرکت نمونه",
            "customerNumber": unique_number(), **fields}


def assert_error(response: requests.Response, status: int, error: str | None = None,
                 mentions: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    if error:
        assert body["error"] == error
    if mentions:
        assert mentions in body["errorMessage"]
    return body
