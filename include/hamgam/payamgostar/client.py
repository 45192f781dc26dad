"""Payamgostar REST v2 client: one session, a cached bearer token, retries that honour Retry-After.

Wire contract: shared/reference/payamgostar-api.md §2.1 (login) and §3 (crmobject verbs).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt

from hamgam.payamgostar.errors import (
    AuthError,
    GaveUp,
    NotFound,
    PayamgostarError,
    RecordRejected,
    RetriableError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

IDENTITY_KINDS = ("person", "organization")
EQUALS = 0  # FilterOperators.Equals (§3.6)


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # HTTP-date form is not used by the CRM; fall back to backoff


def _transport_error(exc: requests.RequestException, endpoint: str, record: str | None) -> RetriableError:
    if isinstance(exc, requests.ReadTimeout):
        reason = "the CRM did not answer in time"
    elif isinstance(exc, requests.ConnectionError | requests.Timeout):
        reason = f"cannot reach the CRM ({exc.__class__.__name__})"
    else:
        reason = f"the request to the CRM failed ({exc.__class__.__name__})"
    return RetriableError(reason, record=record, endpoint=endpoint)


def _excerpt(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("errorMessage") or body.get("error_description") or body.get("error") or body)
        return str(body)
    except ValueError:
        return response.text[:300]


class PayamgostarClient:
    """Thread-safe client for the CRM's REST v2 surface.

    Retries 5xx, 429, timeouts and connection errors with exponential backoff (with jitter), waiting
    at least ``min_wait`` seconds and at least what Retry-After asks. A 401 renews the token once.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        min_wait: float = 0.1,
        max_workers: int = 4,
        device_id: str = "hamgam-airflow",
        token_margin_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url:
            raise ValueError("Payamgostar base URL is empty: set the host of the payamgostar_default connection")
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.min_wait = max(min_wait, 0.01)  # never retry after 0 s
        self.max_workers = max_workers
        self.device_id = device_id
        self.token_margin = timedelta(seconds=token_margin_seconds)
        self._sleep = sleep
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(max_workers, 4), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})

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
            raise _transport_error(exc, endpoint, None) from exc
        if response.status_code in (401, 402, 403):
            reasons = {401: "wrong user name or password", 402: "the MobileApp (REST) module is not licensed",
                       403: "too many login attempts; the user is locked out for now"}
            raise AuthError(f"login refused: {reasons[response.status_code]}", endpoint=endpoint,
                            status=response.status_code, body=_excerpt(response))
        self._raise_for_status(response, endpoint, record=None)
        data = response.json()
        token = data.get("accessToken")
        if not token:
            raise AuthError("login answered without an accessToken", endpoint=endpoint, status=response.status_code)
        self._token = token
        self._token_expires = self._parse_expiry(data.get("expiresAt"))
        log.info("Logged in to Payamgostar at %s as %s", self.base_url, self._username)
        return token

    @staticmethod
    def _parse_expiry(value: Any) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.fromisoformat(str(value)).astimezone(UTC)
        except ValueError:
            return None

    def _current_token(self, stale: str | None = None) -> str:
        """The cached token; logs in when there is none, it is about to expire, or it was refused."""
        with self._token_lock:
            expiring = self._token_expires is not None and datetime.now(UTC) + self.token_margin >= self._token_expires
            if self._token is None or expiring or (stale is not None and self._token == stale):
                self.login()
            assert self._token is not None
            return self._token

    # -- calls ----------------------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any], *, record: str | None = None,
             recover: Callable[[], T | None] | None = None) -> Any:
        """POST ``/api/v2/<path>`` with retries. ``recover`` runs before each retry of a write: if the
        first attempt did land (a 500 after commit, a lost response), it returns the result and the
        write is not sent again."""
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "%s: retry %d of %s after %s", record or path, state.attempt_number, path,
                state.outcome.exception() if state.outcome else "?"),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if recover is not None and attempt.retry_state.attempt_number > 1:
                        recovered = recover()
                        if recovered is not None:
                            log.info("%s: the earlier %s had landed; not sent again", record or path, path)
                            return recovered
                    return self._call_once(path, body, record)
        except RetryError as exc:  # only retriable errors get here; others are raised as they are
            cause = exc.last_attempt.exception()
            assert isinstance(cause, RetriableError)
            raise GaveUp(f"gave up after {self.max_attempts} attempts: {cause.reason}", record=record,
                         endpoint=path, status=cause.status, body=cause.body) from cause
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        backoff = backoff * (0.5 + random.random() / 2)  # jitter: spread concurrent retries
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(self.min_wait, backoff, retry_after)

    def _call_once(self, path: str, body: dict[str, Any], record: str | None) -> Any:
        token = self._current_token()
        response = self._post(path, body, token, record)
        if response.status_code == 401:  # expired or revoked: renew once, then it is a real refusal
            token = self._current_token(stale=token)
            response = self._post(path, body, token, record)
            if response.status_code == 401:
                raise AuthError("the CRM refused a fresh token", record=record, endpoint=path, status=401,
                                body=_excerpt(response))
        self._raise_for_status(response, path, record)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def _post(self, path: str, body: dict[str, Any], token: str, record: str | None) -> requests.Response:
        try:
            return self.session.post(f"{self.base_url}/api/v2/{path}", json=body, timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise _transport_error(exc, path, record) from exc

    @staticmethod
    def _raise_for_status(response: requests.Response, endpoint: str, record: str | None) -> None:
        status = response.status_code
        if status < 400:
            return
        excerpt = _excerpt(response)
        if status == 429:
            raise RetriableError("the CRM is rate limiting", record=record, endpoint=endpoint, status=status,
                                 body=excerpt, retry_after=_retry_after_seconds(response))
        if status >= 500:
            raise RetriableError(f"the CRM failed: {excerpt}", record=record, endpoint=endpoint, status=status,
                                 body=excerpt, retry_after=_retry_after_seconds(response))
        if status == 404:
            raise NotFound(f"not found in the CRM: {excerpt}", record=record, endpoint=endpoint, status=status,
                           body=excerpt)
        if status in (401, 403):
            raise AuthError(f"not allowed: {excerpt}", record=record, endpoint=endpoint, status=status, body=excerpt)
        raise RecordRejected(f"the CRM rejected it: {excerpt}", record=record, endpoint=endpoint, status=status,
                             body=excerpt)

    # -- identities (person / organization) -----------------------------------------------------
    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"identity kind must be one of {IDENTITY_KINDS}, not {kind!r}")
        return kind

    def find_identities(self, kind: str, field: str, value: str, *, record: str | None = None) -> list[dict]:
        body = {"queries": [{"logicalOperator": 0, "field": field, "operator": EQUALS, "value": value}],
                "pageNumber": 1, "pageSize": 50}
        result = self.call(f"crmobject/{self._kind(kind)}/find", body, record=record) or {}
        return list(result.get("data") or [])

    def find_identity_by_customer_number(self, number: str, *, kinds: Iterable[str] = IDENTITY_KINDS,
                                         record: str | None = None) -> tuple[str, dict] | None:
        """The live identity holding this customer number, as (kind, record), or None."""
        for kind in kinds:
            found = self.find_identities(kind, "CustomerNumber", number, record=record)
            if found:
                return kind, found[0]
        return None

    def get_identity(self, kind: str, crm_id: str, *, record: str | None = None) -> dict:
        return self.call(f"crmobject/{self._kind(kind)}/get", {"id": crm_id}, record=record)

    def create_identity(self, kind: str, payload: dict[str, Any], *, record: str | None = None) -> str:
        number = payload.get("customerNumber")

        def already_created() -> str | None:
            if not number:
                return None
            found = self.find_identities(kind, "CustomerNumber", number, record=record)
            return found[0].get("crmId") if found else None

        result = self.call(f"crmobject/{self._kind(kind)}/create", payload, record=record, recover=already_created)
        return result if isinstance(result, str) else result["crmId"]

    def update_identity(self, kind: str, crm_id: str, payload: dict[str, Any], *, record: str | None = None) -> str:
        result = self.call(f"crmobject/{self._kind(kind)}/update", {**payload, "crmId": crm_id}, record=record)
        return (result or {}).get("crmId", crm_id) if isinstance(result, dict) else crm_id

    def delete_identity(self, kind: str, crm_id: str, *, record: str | None = None) -> None:
        self.call(f"crmobject/{self._kind(kind)}/delete", {"Id": crm_id, "Option": 1}, record=record)

    def search_identities(self, term: str = "", *, page_size: int = 200) -> Iterator[dict]:
        """Every identity matching ``term`` from the light directory (§3.5), page by page."""
        page = 0
        while True:
            rows = self.call("crmobject/identity/search", {"pageNumber": page, "pageSize": page_size,
                                                           "searchTerm": term}) or []
            yield from rows
            if len(rows) < page_size:
                return
            page += 1

    # -- concurrency ----------------------------------------------------------------------------
    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | None, Exception | None]]:
        """Run ``fn`` over items on at most ``max_workers`` threads; yields (item, result, error) as done."""
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="payamgostar") as pool:
            futures = {pool.submit(fn, item): item for item in items}
            for future in as_completed(futures):
                item = futures[future]
                try:
                    yield item, future.result(), None
                except PayamgostarError as exc:
                    yield item, None, exc

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PayamgostarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
