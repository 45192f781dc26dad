"""A loopback HTTP proxy that puts CRM faults between hamgam and the Payamgostar sandbox.

hamgam's CRM connection points at the proxy (127.0.0.1, a free port); the proxy forwards each call to
the sandbox and, on a seeded schedule (a ``FaultPlan``), answers in its place:

- a *before* fault answers without forwarding: the CRM never sees the call;
- an *after* fault forwards the call (a write is committed in the CRM) and then replaces the answer, or
  holds it past the client's timeout.

Which call gets which fault is drawn from a hash of (seed, plan, operation, record, how often that
operation was called for that record in this plan), so a seed picks the same faults for the same calls
whatever order the client's threads send them in. Triggers fire on the n-th write of an entity or the
n-th REST call (the harness kills the DAG process, restarts the sandbox or revokes the tokens there).
Every call is logged with the record it concerns, so a lost or doubled record can be traced to the
faults that touched it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade", "content-length", "date", "server"})


@dataclass(frozen=True)
class Mode:
    name: str
    when: str  # "before": the CRM never sees the call; "after": forwarded (committed), then the answer replaced
    protocols: tuple[str, ...]  # "rest" (JSON, login included), "soap"
    writes_only: bool
    claim: str  # what the client gets, for the report and the proxy's own tests

    def applies(self, call: Call) -> bool:
        return call.protocol in self.protocols and (call.write or not self.writes_only)


BOTH = ("rest", "soap")
MODES: dict[str, Mode] = {m.name: m for m in (
    Mode("5xx-before", "before", BOTH, False, "503 Service Unavailable page; the CRM never sees the call"),
    Mode("5xx-after-commit", "after", BOTH, True,
         "the write is committed; the answer is a 500 (REST: the API's error JSON, SOAP: a 502 gateway page)"),
    Mode("429-burst", "before", BOTH, False,
         "429 with Retry-After for this call and the next ones of a burst; the CRM never sees them"),
    Mode("slow-timeout", "after", BOTH, False,
         "the CRM answers (a write is committed) but the answer is held past the client's read timeout"),
    Mode("html200-before", "before", BOTH, False, "200 text/html maintenance page; the CRM never sees the call"),
    Mode("html200-after-commit", "after", BOTH, True, "the write is committed; the answer is a 200 text/html page"),
    Mode("truncated-json", "after", ("rest",), False,
         "the CRM's 2xx JSON answer cut short (a consistent Content-Length; not valid JSON)"),
    Mode("truncated-soap", "after", ("soap",), False,
         "the CRM's 2xx SOAP answer cut short (a consistent Content-Length; not well-formed XML)"),
    Mode("soap-fault-before", "before", ("soap",), False,
         "500 SOAP fault a:InternalServiceFault; the CRM never sees the call"),
    Mode("soap-fault-after-commit", "after", ("soap",), True,
         "the write is committed; the answer is a 500 SOAP fault a:InternalServiceFault"),
)}
# the harness's events: counted by the proxy, carried out by the harness's trigger callback
EVENTS = ("token-revoked", "kill-load", "sandbox-restart")


@dataclass(frozen=True)
class Trigger:
    """An event at the ``nth`` matching call of a plan: ``on="write"`` counts writes of ``entity`` (any
    entity if None) and fires after the write was forwarded (committed, not yet answered); ``on="rest"``
    counts REST API calls (login excluded) and fires before the call is forwarded."""

    event: str  # one of EVENTS
    nth: int
    on: str = "write"
    entity: str | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS or self.on not in ("write", "rest") or self.nth < 1:
            raise ValueError(f"bad trigger {self!r}")


@dataclass
class FaultPlan:
    """The faults of one phase. ``rate``: the chance a call gets a fault, shared among the modes that apply
    to it by ``weights``; ``caps``: the most injections of a mode in this plan (a 429 burst counts once)."""

    name: str = "clean"
    rate: float = 0.0
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MODES, 1.0))
    caps: dict[str, int] = field(default_factory=dict)
    burst: int = 5  # 429 answers per burst (this call and the next burst - 1 calls, whatever they are)
    retry_after: int = 1  # seconds, in the 429 answers
    hold_seconds: float = 8.0  # slow-timeout: how long an answer is held (longer than the client's timeout)
    triggers: list[Trigger] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = (set(self.weights) | set(self.caps)) - set(MODES)
        if unknown:
            raise ValueError(f"unknown fault modes {sorted(unknown)}; known: {list(MODES)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {self.rate!r}")


@dataclass
class Call:
    """One call through the proxy, as logged."""

    seq: int
    phase: str
    started: float  # time.monotonic()
    method: str
    path: str
    protocol: str  # rest | soap | other
    operation: str  # "person/create", "auth/login", "IInvoice/SaveInvoice", ...
    write: bool
    entity: str | None  # the forward entity the call is about (identities, products, quotes, ...)
    subject: str | None  # the record: a number or code (100-1403/12, 100-1001) or a CRM id
    fault: str | None = None  # the mode injected into this call
    event: str | None = None  # an EVENTS entry fired at this call, or "upstream-down"
    forwarded: bool = False
    upstream_status: int | None = None
    status: int | None = None  # what the client was answered; None: the connection was dropped
    ended: float | None = None


TriggerHandler = Callable[[Trigger, Call], str | None]  # returns "drop" to close the client's connection unanswered


class FaultProxy:
    """``with FaultProxy("http://127.0.0.1:8765", seed=7) as proxy:`` ... ``proxy.url`` ... ``set_plan(plan)``."""

    def __init__(self, upstream: str, *, seed: int, on_trigger: TriggerHandler | None = None,
                 upstream_timeout: float = 300.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.seed = seed
        self.on_trigger = on_trigger
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._calls: list[Call] = []
        self._early: list[tuple[Call, float]] = []
        self._seq = 0
        self._plan = FaultPlan()
        self._reset_plan_state()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="chaos-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the plan ---------------------------------------------------------------------------------
    def set_plan(self, plan: FaultPlan) -> None:
        """Switch to ``plan`` (its counters start at zero)."""
        with self._lock:
            self._plan = plan
            self._reset_plan_state()

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def _reset_plan_state(self) -> None:
        self._occurrences: Counter[tuple[str, str | None]] = Counter()
        self._used: Counter[str] = Counter()
        self._burst_left = 0
        self._write_counts: Counter[str | None] = Counter()
        self._rest_count = 0
        self._fired: set[int] = set()
        self._limited: dict[tuple[str, str | None], float] = {}  # (operation, subject) -> when a retry is allowed

    # -- what happened ----------------------------------------------------------------------------
    def calls(self, phase: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if phase is None or c.phase == phase]

    def injected(self, phase: str | None = None) -> Counter[str]:
        """Faults injected (by mode) and events fired (by name)."""
        counts: Counter[str] = Counter()
        for call in self.calls(phase):
            if call.fault:
                counts[call.fault] += 1
            if call.event in EVENTS:
                counts[call.event] += 1
        return counts

    def early_retries(self) -> list[tuple[Call, float]]:
        """Calls that came back sooner than the Retry-After of the 429 their operation and record got
        (with how much sooner, in seconds)."""
        with self._lock:
            return list(self._early)

    # -- the schedule -----------------------------------------------------------------------------
    def _decide(self, call: Call) -> str | None:
        """The fault for this call (under the lock)."""
        plan = self._plan
        key = (call.operation, call.subject)
        occurrence = self._occurrences[key]
        self._occurrences[key] += 1
        if self._burst_left > 0:
            self._burst_left -= 1
            return "429-burst"
        if plan.rate <= 0:
            return None
        u = _uniform(f"{self.seed}|{plan.name}|{call.operation}|{call.subject}|{occurrence}")
        if u >= plan.rate:
            return None
        modes = [m for m in MODES.values() if m.applies(call) and plan.weights.get(m.name, 0) > 0]
        total = sum(plan.weights[m.name] for m in modes)
        point, cumulative = u / plan.rate * total, 0.0
        for mode in modes:
            cumulative += plan.weights[mode.name]
            if point < cumulative:
                if mode.name in plan.caps and self._used[mode.name] >= plan.caps[mode.name]:
                    return None
                self._used[mode.name] += 1
                if mode.name == "429-burst":
                    self._burst_left = max(plan.burst - 1, 0)
                return mode.name
        return None

    def _triggers(self, call: Call, on: str) -> list[Trigger]:
        """The triggers this call fires (under the lock); counts the call."""
        if on == "write" and call.write:
            self._write_counts[call.entity] += 1
            self._write_counts[None] += 1
        elif on == "rest" and call.protocol == "rest" and call.operation != "auth/login":
            self._rest_count += 1
        else:
            return []
        fired = []
        for index, trigger in enumerate(self._plan.triggers):
            if trigger.on != on or index in self._fired:
                continue
            if on == "write" and trigger.entity not in (None, call.entity):
                continue
            count = self._rest_count if on == "rest" else self._write_counts[trigger.entity]
            if count >= trigger.nth:
                self._fired.add(index)
                fired.append(trigger)
        return fired

    def _fire(self, triggers: list[Trigger], call: Call) -> bool:
        """Run the harness's handler for each trigger; True if the connection is to be dropped."""
        drop = False
        for trigger in triggers:
            call.event = trigger.event
            if self.on_trigger is not None and self.on_trigger(trigger, call) == "drop":
                drop = True
        return drop

    def _new_call(self, method: str, path: str, headers: Any, body: bytes) -> Call:
        protocol, operation, write, entity, subject = classify(method, path, headers, body)
        with self._lock:
            self._seq += 1
            call = Call(self._seq, self._plan.name, time.monotonic(), method, path, protocol, operation, write,
                        entity, subject)
            self._calls.append(call)
            key = (operation, subject)
            allowed = self._limited.pop(key, None)
            if allowed is not None and call.started < allowed - 0.05:
                self._early.append((call, allowed - call.started))
        return call


def _uniform(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / 16 ** 13


# -- what a call is about -------------------------------------------------------------------------
_REST_ENTITIES = (("person/", "identities"), ("organization/", "identities"), ("identity/", "identities"),
                  ("invoice/sales/", "sales_invoices"), ("invoice/purchase/", "purchase_invoices"),
                  ("quote/sales/", "quotes"))
_SUBJECT_KEYS = ("customernumber", "number", "code")
_ID_KEYS = ("crmid", "id")
_QUERY_FIELDS = {"customernumber", "number", "code"}
_XML_SUBJECTS = ("Number", "number", "Code", "code", "CrmId", "crmId", "quoteId", "Id", "id")


def classify(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str, bool, str | None, str | None]:
    """(protocol, operation, is_write, entity, subject) of a call."""
    route = path.split("?", 1)[0]
    if route.startswith("/api/v2/"):
        operation = route[len("/api/v2/"):].removeprefix("crmobject/").strip("/")
        write = operation.rsplit("/", 1)[-1] in ("create", "update", "delete")
        entity = next((e for prefix, e in _REST_ENTITIES if operation.startswith(prefix)), None)
        return "rest", operation, write, entity, json_subject(body)
    if "/services/api/" in route.lower():
        service = route.rsplit("/", 1)[-1].split(".", 1)[0]
        action = (headers.get("SOAPAction") or "").strip().strip('"')
        name = action.rsplit("/", 1)[-1] or "(no action)"
        write = name.startswith(("Save", "Delete"))
        return "soap", f"{service}/{name}", write, soap_entity(service, name, body), xml_subject(body)
    return "other", f"{method} {route}", False, None, None


def json_subject(body: bytes) -> str | None:
    """The record a REST body is about: its number or code, a query's value for one, else its id."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key in _SUBJECT_KEYS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    for query in lowered.get("queries") or []:
        if isinstance(query, dict):
            q = {str(k).lower(): v for k, v in query.items()}
            if str(q.get("field", "")).lower() in _QUERY_FIELDS and q.get("value"):
                return str(q["value"]).strip()
    for key in _ID_KEYS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip() and value != ZERO_GUID:
            return value.strip()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_subject(body: bytes) -> str | None:
    """The record a SOAP body is about: the first Number / Code element, else an id element."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    found: dict[str, str] = {}
    for element in root.iter():
        name, text = _local(element.tag), (element.text or "").strip()
        if name in _XML_SUBJECTS and name not in found and text and text not in (ZERO_GUID, "0"):
            found[name] = text
    return next((found[name] for name in _XML_SUBJECTS if name in found), None)


def _texts(body: bytes) -> dict[str, str] | None:
    """Each element's text by local name (the last one of a name wins); None when the body is no XML."""
    try:
        return {_local(e.tag): (e.text or "").strip() for e in ET.fromstring(body).iter()}
    except ET.ParseError:
        return None


def soap_entity(service: str, operation: str, body: bytes) -> str | None:
    if service == "IProduct":
        return "products"
    if service == "IInvoice":
        return _invoice_entity(operation, body)
    if service == "IPayment":
        if "Receipt" in operation:
            return "receipts"
        if "Payment" in operation and operation != "SavePayment":
            return "payments"
        texts = _texts(body)
        if texts is None:
            return None
        index, code = texts.get("CrmObjectTypeIndex"), texts.get("CrmObjectTypeCode", "").casefold()
        if index == "9" or code == "receipt":
            return "receipts"
        if index == "23" or code == "payment":
            return "payments"
    return None


def _invoice_entity(operation: str, body: bytes) -> str:
    """IInvoice: purchase invoices and returns by the operation's name; SaveReturnInvoice and
    DeleteReturnInvoiceByNumber by CrmObjectTypeIndex 16 or the default type code (as SavePayment)."""
    if "ReturnPurchase" in operation:
        return "purchase_returns"
    if "PurchaseInvoice" in operation:
        return "purchase_invoices"
    if "Return" not in operation:
        return "quotes"
    texts = _texts(body) or {}
    code = (texts.get("CrmObjectTypeCode") or texts.get("typeCode") or "").casefold()
    purchase = texts.get("CrmObjectTypeIndex") == "16" or code == "purchase_return"
    return "purchase_returns" if purchase else "sales_returns"


# -- the answers the proxy gives in the CRM's place ------------------------------------------------
HTML_MAINTENANCE = (b"<!DOCTYPE html><html><head><title>Payamgostar</title></head><body><h1>The system is being "
                    b"updated</h1><p>Please try again in a few minutes. (chaos proxy)</p></body></html>")
HTML_503 = (b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"><HTML><HEAD><TITLE>Service Unavailable</TITLE>"
            b"</HEAD><BODY><h2>Service Unavailable</h2><hr><p>HTTP Error 503. The service is unavailable. "
            b"(chaos proxy)</p></BODY></HTML>")
HTML_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
            b"<hr><center>chaos proxy</center></body></html>")
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


def soap_fault(code: str, message: str, namespace: str | None = None) -> bytes:
    declaration = f' xmlns:a="{namespace}"' if namespace else ""
    return (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault><faultcode{declaration}>{code}</faultcode>'
            f'<faultstring xml:lang="en-US">{message}</faultstring></s:Fault></s:Body></s:Envelope>').encode()


INTERNAL_FAULT = soap_fault("a:InternalServiceFault", "The server was unable to process the request due to an "
                            "internal error. (chaos proxy)", DISPATCHER)
Answer = tuple[int, list[tuple[str, str]], bytes]
HTML = [("Content-Type", "text/html; charset=utf-8")]
JSON = [("Content-Type", "application/json; charset=utf-8")]
XML = [("Content-Type", "text/xml; charset=utf-8")]


def before_answer(mode: str, call: Call, plan: FaultPlan) -> Answer:
    if mode == "5xx-before":
        return 503, HTML, HTML_503
    if mode == "429-burst":
        wait = [("Retry-After", str(plan.retry_after))]
        if call.protocol == "soap":
            return 429, XML + wait, soap_fault("s:Server", f"Too many requests; retry after {plan.retry_after} s. "
                                                           "(chaos proxy)")
        body = {"error": "too_many_requests", "errorMessage": "Too many requests; retry later.",
                "errorDescription": f"Rate limit exceeded. Retry after {plan.retry_after} s. (chaos proxy)"}
        return 429, JSON + wait, json.dumps(body).encode()
    if mode == "html200-before":
        return 200, HTML, HTML_MAINTENANCE
    if mode == "soap-fault-before":
        return 500, XML, INTERNAL_FAULT
    raise ValueError(f"{mode} is not a before-fault")


def after_answer(mode: str, call: Call, answer: Answer) -> Answer | None:
    """The answer that replaces the CRM's, or None when the mode does not apply to it (the CRM refused the
    call, or there is no body to cut): then the CRM's answer goes through and nothing was injected."""
    status, headers, body = answer
    if not 200 <= status < 300:
        return None
    if mode == "5xx-after-commit":
        if call.protocol == "soap":
            return 502, HTML, HTML_502
        error = {"error": "server_error", "errorMessage": "An error has occurred.",
                 "errorDescription": "Injected after the commit (chaos proxy)."}
        return 500, JSON, json.dumps(error).encode()
    if mode == "html200-after-commit":
        return 200, HTML, HTML_MAINTENANCE
    if mode in ("truncated-json", "truncated-soap"):
        cut = truncate(body, json_body=mode == "truncated-json")
        return None if cut is None else (status, headers, cut)
    if mode == "soap-fault-after-commit":
        return 500, XML, INTERNAL_FAULT
    raise ValueError(f"{mode} is not an after-fault")


def truncate(body: bytes, *, json_body: bool) -> bytes | None:
    """About the first half of ``body``, cut so that it does not parse (None if too short to cut)."""
    if len(body.strip()) < 4:
        return None
    for length in range(max(len(body) // 2, 1), 0, -1):
        cut = body[:length]
        try:
            json.loads(cut) if json_body else ET.fromstring(cut)
        except (ValueError, ET.ParseError):
            return cut
    return None


# -- the server -------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed or timed out mid-call is part of the game; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's session expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    do_GET = do_PUT = do_DELETE = do_POST  # noqa: N815

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        call = proxy._new_call(self.command, self.path, self.headers, body)
        try:
            self._serve(proxy, call, body)
        finally:
            call.ended = time.monotonic()

    def _serve(self, proxy: FaultProxy, call: Call, body: bytes) -> None:
        with proxy._lock:
            plan = proxy._plan
            fault = proxy._decide(call) if call.protocol != "other" else None
            before_triggers = proxy._triggers(call, "rest")
        if proxy._fire(before_triggers, call):
            return self._drop(call)
        mode = MODES.get(fault) if fault else None
        if mode is not None and mode.when == "before":
            call.fault = fault
            if fault == "429-burst":
                with proxy._lock:
                    proxy._limited[(call.operation, call.subject)] = time.monotonic() + plan.retry_after
            return self._answer(call, *before_answer(fault, call, plan))
        try:
            answer = self._forward(proxy, body)
        except (OSError, http.client.HTTPException):
            call.event = call.event or "upstream-down"
            return self._drop(call)  # the CRM cannot be reached or died mid-call: the client sees a dropped line
        call.forwarded, call.upstream_status = True, answer[0]
        with proxy._lock:
            after_triggers = proxy._triggers(call, "write")
        if proxy._fire(after_triggers, call):
            return self._drop(call)
        if mode is not None and fault == "slow-timeout":
            call.fault = fault
            if proxy._stopping.wait(plan.hold_seconds):
                return self._drop(call)
            return self._answer(call, *answer)
        if mode is not None:
            replaced = after_answer(fault, call, answer)
            if replaced is not None:
                call.fault = fault
                answer = replaced
            else:
                with proxy._lock:
                    proxy._used[fault] -= 1  # not injected: the cap is not spent
        self._answer(call, *answer)

    def _forward(self, proxy: FaultProxy, body: bytes) -> Answer:
        connection = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                timeout=proxy.upstream_timeout)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
            headers["Connection"] = "close"
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, kept, data
        finally:
            connection.close()

    def _answer(self, call: Call, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        call.status = status  # before the write: the client may look at the log as soon as it has the answer
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (timed out) or died
            call.status = None
            self.close_connection = True

    def _drop(self, call: Call) -> None:
        call.status = None
        self.close_connection = True
