"""The CRM's REST v2 transport (§2.1, §3): login and a cached bearer token (renewed before it expires, and
once on a 401), one POST of a JSON body, its answer checked by ``expect``. Retries, recovery and the
thread pool are the client's (``client.PayamgostarClient``), the same for both transports."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from hamgam.payamgostar.answers import BadShape, object_answer
from hamgam.payamgostar.errors import AuthError, UnexpectedAnswer
from hamgam.payamgostar.http import excerpt, raise_for_status, transport_error

log = logging.getLogger("hamgam.payamgostar.client")
_LOGIN_REFUSALS = {401: "wrong user name or password", 402: "the MobileApp (REST) module is not licensed",
                   403: "too many login attempts; the user is locked out for now"}


class RestTransport:
    """REST v2 calls of a client (a base of ``PayamgostarClient``, which sets the attributes below)."""

    base_url: str
    session: requests.Session
    timeout: tuple[float, float]
    device_id: str
    token_margin: timedelta
    _username: str
    _password: str
    _token: str | None
    _token_expires: datetime | None
    _token_lock: threading.Lock
    _login_refused: AuthError | None

    # -- authentication -------------------------------------------------------------------------
    def login(self) -> str:
        body = {
            "username": self._username,
            "password": self._password,
            "deviceId": self.device_id,
            "platformType": 4,  # Linux (§2.1)
            "os": "Linux",
            "osVersion": "1.0",
            "token": "",
        }
        endpoint = "auth/login"
        try:
            response = self.session.post(f"{self.base_url}/api/v2/auth/login", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise transport_error(exc, endpoint, None) from exc
        if response.status_code in _LOGIN_REFUSALS:
            self._login_refused = AuthError(f"login refused: {_LOGIN_REFUSALS[response.status_code]}",
                                            endpoint=endpoint, status=response.status_code, body=excerpt(response))
            raise self._login_refused
        raise_for_status(response, endpoint, record=None)
        data = self._answer(response, endpoint, None, object_answer)
        token = data.get("accessToken")
        if not token or not isinstance(token, str):
            raise AuthError("login answered without an accessToken", endpoint=endpoint, status=response.status_code)
        self._token = token
        self._login_refused = None
        self._token_expires = self._parse_expiry(data.get("expiresAt"))
        log.info("Logged in to Payamgostar at %s as %s", self.base_url, self._username)
        return token

    @staticmethod
    def _parse_expiry(value: Any) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.fromisoformat(str(value)).astimezone(UTC)
        except (ValueError, OverflowError):
            return None

    def _current_token(self, stale: str | None = None) -> str:
        """The cached token; logs in when there is none, it is about to expire, or it was refused."""
        with self._token_lock:
            expiring = self._token_expires is not None and datetime.now(UTC) + self.token_margin >= self._token_expires
            if self._token is None or expiring or (stale is not None and self._token == stale):
                if self._login_refused is not None:
                    refused = self._login_refused
                    raise AuthError(refused.reason, endpoint=refused.endpoint, status=refused.status, body=refused.body)
                self.login()
            assert self._token is not None
            return self._token

    def _call_once(self, path: str, body: dict[str, Any], record: str | None,
                   expect: Callable[[Any], Any] | None = None) -> Any:
        token = self._current_token()
        response = self._post(path, body, token, record)
        if response.status_code == 401:  # expired or revoked: renew once, then it is a real refusal
            token = self._current_token(stale=token)
            response = self._post(path, body, token, record)
            if response.status_code == 401:
                raise AuthError("the CRM refused a fresh token", record=record, endpoint=path, status=401,
                                body=excerpt(response))
        raise_for_status(response, path, record)
        return self._answer(response, path, record, expect)

    @staticmethod
    def _answer(response: requests.Response, endpoint: str, record: str | None,
                expect: Callable[[Any], Any] | None) -> Any:
        """The JSON of a 2xx answer, through ``expect``; anything else is an UnexpectedAnswer naming the endpoint."""
        def unexpected(what: str) -> UnexpectedAnswer:
            return UnexpectedAnswer(endpoint, what, record=record, status=response.status_code,
                                    content_type=response.headers.get("Content-Type"), body=response.content)

        if not response.content:
            answer = None
        else:
            try:
                answer = response.json()
            except ValueError:  # requests' JSONDecodeError, and UnicodeDecodeError
                raise unexpected("not JSON") from None
        if expect is None:
            return answer
        try:
            return expect(answer)
        except BadShape as exc:
            raise unexpected(str(exc)) from None

    def _post(self, path: str, body: dict[str, Any], token: str, record: str | None) -> requests.Response:
        try:
            return self.session.post(f"{self.base_url}/api/v2/{path}", json=body, timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise transport_error(exc, path, record) from exc
