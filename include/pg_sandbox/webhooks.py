"""Webhooks the way Payamgostar sends them (payamgostar-api.md §6).

After a write through the API has committed, the sandbox sends

    GET <url>?event=Insert|Update|Delete&id=<CrmId>&type=Identity|Quote&subtype=<display name>

with no body, no Content-Type and no User-Agent (only `Host`), the parameters form-encoded
in UTF-8 (a space becomes `+`) and appended to any query string the URL already has (a
`?token=...` stays). Persons and organizations go to `webhook_identity_url` (type Identity,
subtype `webhook_person_subtype` / `webhook_organization_subtype`), quotes saved with
SOAP SaveInvoice (InvoiceType Quote) to `webhook_quote_url` (type Quote, subtype
`webhook_quote_subtype`). An empty URL sends nothing; `webhook_events` picks the events
(the observed CRM: Insert and Update). Every write fires, whoever made it: hamgam's own
forward sync gets webhooks for its own writes, as from the real CRM.

Chosen where the real CRM's behaviour is unknown (§7):
- sending is off the request thread: the API answers at once and one worker thread sends
  the webhooks in commit order; a webhook waiting for a retry holds up the later ones;
- `webhook_attempts` tries in all (default 3) on a connection error, a timeout
  (`webhook_timeout_seconds`, default 5) or an HTTP 5xx, waiting `webhook_retry_delay_ms`
  (default 500) before the second try and twice as long before each later one. A 4xx is
  final (failed); any answer below 400 counts as delivered (redirects are not followed);
- `webhook_drop_rate` drops a share of due webhooks at commit time, drawn from the seeded
  fault sequence: counted and logged as dropped, never sent;
- webhooks still queued when the server stops are lost, as on a crash.

Counters (`stats()["webhooks"]`): sent, failed, dropped, retries (tries after the first),
pending (queued or being sent). The last LOG_SIZE outcomes are kept for /_sandbox/webhooks,
with the values of the URL's own query string (and any password in it) masked.
"""

import http.client
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from pg_sandbox.dates import local_text, now_utc
from pg_sandbox.faults import Faults
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.store import Store

log = logging.getLogger(__name__)

LOG_SIZE = 500
COUNTERS = ("sent", "failed", "dropped", "retries")
# record kind -> (URL setting, CrmObjectTypes name, subtype display-name setting)
TARGETS = {
    "person": ("webhook_identity_url", "Identity", "webhook_person_subtype"),
    "organization": ("webhook_identity_url", "Identity", "webhook_organization_subtype"),
    "quote": ("webhook_quote_url", "Quote", "webhook_quote_subtype"),
}


@dataclass(frozen=True)
class Webhook:
    url: str  # the configured target, maybe with its own query string
    event: str
    crm_id: str
    type: str
    subtype: str

    def params(self) -> dict[str, str]:
        return {"event": self.event, "id": self.crm_id, "type": self.type, "subtype": self.subtype}


def request_url(base: str, params: dict[str, str]) -> str:
    """`base` with `params` appended to its query string (kept as it is), without a fragment."""
    parts = urlsplit(base)
    ours = urlencode(params)  # quote_plus, UTF-8: as the CRM sends them
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def masked(url: str) -> str:
    """The URL for the log: query values and a password replaced by ***, no fragment."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = "&".join(f"{quote_plus(key)}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class _Retriable(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def send_once(url: str, timeout: float) -> int:
    """One GET as the CRM sends it: the request line and Host, nothing else. Returns the status."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled answer
        raise _Retriable(f"{exc.__class__.__name__}: {exc}") from exc
    finally:
        connection.close()


class Webhooks:
    """The outgoing queue: `notify` after a commit, one worker thread sends."""

    def __init__(self, settings: Callable[[], SandboxSettings], faults: Faults, store: Store,
                 send: Callable[[str, float], int] = send_once) -> None:
        self._settings = settings
        self._faults = faults
        self._store = store
        self._send = send
        self._cond = threading.Condition()
        self._queue: deque[Webhook] = deque()
        self._pending = 0  # queued plus being sent
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._numbers = itertools.count(1)
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()

    # ---- producing -------------------------------------------------------------------

    def notify(self, kind: str, event: str, crm_id: str) -> None:
        """A write of a `kind` record committed: queue its webhook if one is configured."""
        if kind not in TARGETS:
            return
        settings = self._settings()
        url_setting, type_name, subtype_setting = TARGETS[kind]
        url = getattr(settings, url_setting)
        if not url or event not in settings.webhook_events:
            return
        webhook = Webhook(url, event, crm_id, type_name, getattr(settings, subtype_setting))
        if self._faults.chance(settings.webhook_drop_rate):
            self._count("dropped")
            self._record(webhook, "dropped", None, 0, None)
            return
        with self._cond:
            if self._stopping.is_set():
                return
            self._queue.append(webhook)
            self._pending += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="pg-sandbox-webhooks", daemon=True)
                self._worker.start()
            self._cond.notify_all()

    # ---- observing -------------------------------------------------------------------

    def pending(self) -> int:
        with self._cond:
            return self._pending

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued or being sent; False when `timeout` seconds pass first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def deliveries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The last `limit` (default all kept) outcomes, oldest first."""
        with self._cond:
            entries = list(self._log)
        return entries[-limit:] if limit else entries

    def clear_log(self) -> None:
        with self._cond:
            self._log.clear()

    def stats(self, counters: dict[str, int]) -> dict[str, int]:
        return {**{name: counters.get(name, 0) for name in COUNTERS}, "pending": self.pending()}

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the worker; what is still queued is lost."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    # ---- sending ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                webhook = self._queue.popleft()
            try:
                self._deliver(webhook)
            except Exception:  # never let one webhook kill the worker
                log.exception("webhook %s %s: delivery crashed", webhook.event, webhook.crm_id)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _deliver(self, webhook: Webhook) -> None:
        settings = self._settings()
        url = request_url(webhook.url, webhook.params())
        attempts = max(1, settings.webhook_attempts)
        status: int | None = None
        error: str | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self._count("retries")
                delay = settings.webhook_retry_delay_ms / 1000 * 2 ** (attempt - 2)
                if self._stopping.wait(delay):
                    return
            try:
                status = self._send(url, settings.webhook_timeout_seconds)
                error = None
                if status >= 500:
                    raise _Retriable(f"HTTP {status}", status)
            except _Retriable as exc:
                status, error = exc.status, str(exc)
                continue
            break
        delivered = error is None and status is not None and status < 400
        if not delivered and error is None:
            error = f"HTTP {status}"
        self._count("sent" if delivered else "failed")
        self._record(webhook, "sent" if delivered else "failed", status, attempt, error)
        if not delivered:
            log.warning("webhook %s %s %s to %s failed after %d tries: %s", webhook.type, webhook.event,
                        webhook.crm_id, masked(webhook.url), attempt, error)

    def _count(self, name: str) -> None:
        self._store.bump("webhooks", name)

    def _record(self, webhook: Webhook, outcome: str, status: int | None, attempts: int,
                error: str | None) -> None:
        moment = now_utc()
        entry = {
            "seq": next(self._numbers),
            "at": local_text(moment.replace(microsecond=moment.microsecond // 1000 * 1000)),
            "outcome": outcome,  # sent, failed or dropped
            "status": status,  # the last HTTP status, None when there was no answer
            "attempts": attempts,
            "error": error,
            "url": masked(webhook.url),
            **webhook.params(),
        }
        with self._cond:
            self._log.append(entry)

