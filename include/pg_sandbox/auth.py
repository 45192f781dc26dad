"""Login and bearer-token checks (§2.1).

Access tokens look like the real ones (a JWT with the observed claims) but are only
opaque keys here: validity is decided by the tokens table, so they survive a restart.
"""

import base64
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pg_sandbox.dates import offset_text
from pg_sandbox.errors import ApiError, bad_request, unauthorized
from pg_sandbox.store import Store

_JWT_HEADER = {"alg": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "typ": "JWT"}


class TokenService:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def login(self, body: dict[str, Any], username: str, password: str, ttl_seconds: float) -> dict[str, str]:
        """`body` is a bound LoginModel; returns the login response or raises 400/401."""
        for key in ("username", "password"):
            if not body.get(key):
                raise bad_request("required", f"The {key} field is required.")
        if not (_same(body["username"], username) and _same(body["password"], password)):
            raise ApiError(401, "invalid_grant", "The user name or password is incorrect.")
        now = self._clock()
        expires_at = now + ttl_seconds
        access = _jwt(body["username"], now, expires_at)
        refresh = secrets.token_urlsafe(32)
        self._store.save_token(access, refresh, body["username"], expires_at, now)
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": offset_text(datetime.fromtimestamp(expires_at, UTC)),
        }

    def check(self, authorization: str | None) -> None:
        """Raise 401 unless the header carries a known, unexpired bearer token."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization has been denied for this request: no bearer token.")
        expires_at = self._store.token_expiry(token.strip())
        if expires_at is None:
            raise unauthorized("Authorization has been denied for this request.", "The token is not valid.")
        if expires_at <= self._clock():
            stamp = offset_text(datetime.fromtimestamp(expires_at, UTC))
            raise unauthorized("Authorization has been denied for this request.", f"The token expired at {stamp}")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _jwt(username: str, now: float, expires_at: float) -> str:
    claims = {
        "iss": "PayamGostar.com",
        "aud": "app.api.employeeprofile",
        "sub": username,
        "identityType": "Person",
        "jti": str(uuid.uuid4()),
        "nbf": int(now),
        "iat": int(now),
        "exp": int(expires_at),
    }
    signature = secrets.token_bytes(64)  # never verified: the tokens table is the authority
    return ".".join(_b64(part) for part in (_json(_JWT_HEADER), _json(claims), signature))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
