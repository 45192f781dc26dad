"""Payamgostar client: the two transports, one retry wrapper, one thread pool, and the CRM's operations.

The transports are split by protocol: REST v2 (``rest.RestTransport``: login, cached bearer token, one
JSON call) for identities and invoices, SOAP (``soap_transport.SoapTransport`` with the envelopes of
``soap``) for products, quotes, returns, receipts and payments, which have no REST write path (§7); the
HTTP underneath both is ``http``. Both go through the retry wrapper here (``call``, ``soap_call``), so
backoff, Retry-After, typed errors and the ``recover`` guard against double creates are the same. The
per-document operations are typed objects (``documents``); the methods below keep them by name.

Every answer is checked for its shape inside the attempt (``expect``): one that is not JSON / not a
SOAP envelope, or has the wrong shape, or an id that is not a CRM id (``crm_id_of``), is an
UnexpectedAnswer: retriable, recovered by look-up for a create, never stored as an id; a client call
fed a malformed answer raises nothing but PayamgostarError. A create refused by a SOAP Client fault or
Success=false is looked up before it stands (the fault may have come after the commit). A refused login
is remembered (no lockout by retrying), and an AuthError stops ``map_concurrent`` at once.

Wire contract: shared/reference/payamgostar-api.md §2.1 (login), §3 (crmobject verbs), §4 (SOAP).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt

from hamgam.payamgostar import documents, soap
from hamgam.payamgostar.access import DEFAULT_ACCESS_REFUSALS, AccessCheck
from hamgam.payamgostar.answers import (
    created_id,
    found_info,
    found_page,
    found_rows,
    listed,
    object_answer,
    only,
    saved_id,
    searched_quotes,
    updated_id,
    with_type,
)
from hamgam.payamgostar.contracts import ENUMS
from hamgam.payamgostar.crm_types import PROBE_INDEX, CrmObjectTypes
from hamgam.payamgostar.documents import AND, EQUALS, REST_DELETE_OPTION
from hamgam.payamgostar.errors import (
    AuthError,
    GaveUp,
    PayamgostarError,
    RecordRejected,
    RetriableError,
    ServiceFault,
)
from hamgam.payamgostar.http import new_session
from hamgam.payamgostar.rest import RestTransport
from hamgam.payamgostar.soap_transport import SoapTransport

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

IDENTITY_KINDS = ("person", "organization")
# SOAP deleteOption (§5.4): the one name seen on the wire in a SOAP client (OMID), and the plain delete of
# a document: the children options (AssignChildrenToParent, DeleteChildren, DeletePersons) are for tree
# objects such as an organization's persons, which documents do not have.
SOAP_DELETE_OPTION = "DeleteWithHistory"
PAYMENT_KINDS = {"receipt": 9, "payment": 23}  # CrmObjectTypes index (§5.1)
_SKIPPED = object()  # map_concurrent: an item not started because the CRM refused the credentials


class PayamgostarClient(RestTransport, SoapTransport, CrmObjectTypes, AccessCheck):
    """Thread-safe client for the CRM's REST v2 and SOAP surfaces.

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
        delete_option: str = SOAP_DELETE_OPTION,
        resolve_type_ids: bool = True,
        access_refusals: Iterable[str] = DEFAULT_ACCESS_REFUSALS,
        access_probe: bool = True,
        internal_fault_rejects: bool = True,
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
        if delete_option not in ENUMS["CrmObjectDeleteOption"]:
            raise ValueError(f"delete_option must be one of {ENUMS['CrmObjectDeleteOption']}, not {delete_option!r}")
        self.delete_option = delete_option
        self._init_types(resolve_type_ids)  # Save* sends the subtype's CrmObjectTypeId (crm_types)
        self.access_refusals = tuple(access_refusals)  # SOAP refusals that are AuthErrors (access)
        self.access_probe = access_probe
        # a record's InternalServiceFault that outlasts the retries while the CRM answers: its rejection
        self.internal_fault_rejects = internal_fault_rejects
        self._sleep = sleep
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = threading.Lock()
        # a refused login is not tried again by later calls (each try counts towards the CRM's lockout);
        # calling login() yourself does try again
        self._login_refused: AuthError | None = None
        self.session = new_session(self.base_url, max_workers)
        # one pool for every map_concurrent of this client: chunks sent one after another queue behind
        # each other (no idle tail between them), and the CRM never sees more than max_workers calls
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- calls ----------------------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any], *, record: str | None = None,
             recover: Callable[[], T | None] | None = None, expect: Callable[[Any], T] | None = None) -> Any:
        """POST ``/api/v2/<path>`` with retries; returns the JSON answer (None for an empty body).

        ``expect`` checks the answer's shape and returns what the caller wants from it, inside the
        attempt: an answer it refuses (BadShape), like one that is not JSON, is an UnexpectedAnswer and
        retried. ``recover`` runs before each retry of a write: if the first attempt did land (a 500 after
        commit, a lost or garbled answer), it returns the result (what ``expect`` would) and the write is
        not sent again."""
        return self._with_retries(path, record, lambda: self._call_once(path, body, record, expect), recover)

    def soap_call(self, service: str, operation: str, *, record: str | None = None,
                  recover: Callable[[], T | None] | None = None, expect: Callable[[dict[str, Any]], T] | None = None,
                  **params: Any) -> Any:
        """Call a SOAP operation (§4) with the same retries, ``expect`` and ``recover`` as ``call``; returns
        ``<Op>Result`` as a dict (soap.parse_response). The user name and password travel in every call's body."""
        headers, body = soap.build_request(service, operation, self._username, self._password, **params)
        endpoint = f"{service}/{operation}"
        try:
            return self._with_retries(endpoint, record, lambda: self._soap_once(service, operation, headers, body,
                                                                                record, expect), recover)
        except RecordRejected as refused:  # a fault naming the credentials is no record's fault
            self.raise_if_access_refused(refused.body or refused.reason, endpoint, record, probe=False)
            raise

    def _with_retries(self, endpoint: str, record: str | None, send: Callable[[], Any],
                      recover: Callable[[], Any] | None) -> Any:
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "%s: retry %d of %s after %s", record or endpoint, state.attempt_number, endpoint,
                state.outcome.exception() if state.outcome else "?"),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if recover is not None and attempt.retry_state.attempt_number > 1:
                        recovered = recover()
                        if recovered is not None:
                            log.info("%s: the earlier %s had landed; not sent again", record or endpoint, endpoint)
                            return recovered
                    return send()
        except RetryError as exc:  # only retriable errors get here; others are raised as they are
            cause = exc.last_attempt.exception()
            assert isinstance(cause, RetriableError)
            if isinstance(cause, ServiceFault) and self._breaks_on_this_record(record):
                raise RecordRejected(f"the CRM failed on it {self.max_attempts} times in a row while it answers other"
                                     f" calls: {cause.reason}", record=record, endpoint=endpoint, status=cause.status,
                                     body=cause.body) from cause
            raise GaveUp(f"gave up after {self.max_attempts} attempts: {cause.reason}", record=record,
                         endpoint=endpoint, status=cause.status, body=cause.body) from cause
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _breaks_on_this_record(self, record: str | None) -> bool:
        """After a record's call kept answering InternalServiceFault: does the CRM answer another call now? One
        uncached try of the subtype list. Yes → the fault is this record's (its data trips the CRM's code);
        no → the CRM is down, and the record stays retriable. Assumed, not observed: a real CRM's faults for
        one bad record persist while other calls succeed (with random faults at rate r, a healthy record is
        rejected with chance r^max_attempts)."""
        if not self.internal_fault_rejects or record is None:
            return False
        headers, body = soap.build_request("ICrmObjectType", "GetCrmObjectTypeList", self._username, self._password,
                                           crmObjectTypeIndex=PROBE_INDEX)
        try:
            answer = self._soap_once("ICrmObjectType", "GetCrmObjectTypeList", headers, body, None)
        except PayamgostarError:
            return False
        return bool(answer.get("Success"))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        backoff = backoff * (0.5 + random.random() / 2)  # jitter: spread concurrent retries
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return max(self.min_wait, backoff, retry_after)

    # -- identities (person / organization) -----------------------------------------------------
    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"identity kind must be one of {IDENTITY_KINDS}, not {kind!r}")
        return kind

    def find_identities(self, kind: str, field: str, value: str, *, record: str | None = None) -> list[dict]:
        body = {"queries": [{"logicalOperator": 0, "field": field, "operator": EQUALS, "value": value}],
                "pageNumber": 1, "pageSize": 50}
        return self.call(f"crmobject/{self._kind(kind)}/find", body, record=record, expect=found_rows)

    def find_identity_by_customer_number(self, number: str, *, kinds: Iterable[str] = IDENTITY_KINDS,
                                         record: str | None = None) -> tuple[str, dict] | None:
        """The live identity holding this customer number, as (kind, record), or None."""
        for kind in kinds:
            found = self.find_identities(kind, "CustomerNumber", number, record=record)
            if found:
                return kind, found[0]
        return None

    def get_identity(self, kind: str, crm_id: str, *, record: str | None = None) -> dict:
        return self.call(f"crmobject/{self._kind(kind)}/get", {"id": crm_id}, record=record, expect=object_answer)

    def create_identity(self, kind: str, payload: dict[str, Any], *, record: str | None = None) -> str:
        number = payload.get("customerNumber")

        def already_created() -> str | None:
            if not number:
                return None
            found = self.find_identities(kind, "CustomerNumber", number, record=record)
            return found[0]["crmId"] if found else None

        return self.call(f"crmobject/{self._kind(kind)}/create", payload, record=record, recover=already_created,
                         expect=created_id)

    def update_identity(self, kind: str, crm_id: str, payload: dict[str, Any], *, record: str | None = None) -> str:
        return self.call(f"crmobject/{self._kind(kind)}/update", {**payload, "crmId": crm_id}, record=record,
                         expect=updated_id(crm_id))

    def delete_identity(self, kind: str, crm_id: str, *, record: str | None = None) -> None:
        self.call(f"crmobject/{self._kind(kind)}/delete", {"Id": crm_id, "Option": REST_DELETE_OPTION},
                  record=record)

    def search_identities(self, term: str = "", *, page_size: int = 200) -> Iterator[dict]:
        """Every identity matching ``term`` from the light directory (§3.5), page by page."""
        page = 0
        while True:
            rows = self.call("crmobject/identity/search", {"pageNumber": page, "pageSize": page_size,
                                                           "searchTerm": term}, expect=listed)
            yield from rows
            if len(rows) < page_size:
                return
            page += 1

    # -- products (SOAP IProduct; ProductInfo's key is Id, its natural key Code) -----------------
    def save_product(self, info: dict[str, Any], *, record: str | None = None) -> str:
        """Create (no ``Id``) or update a product; returns its id. A create that is retried, or refused
        (a fault, Success=false), first looks for the product by ``Code``: if it is there, it is adopted."""
        code = info.get("Code")

        def already_created() -> str | None:
            found = self.find_product_by_code(code, record=record) if code else None
            return found["Id"] if found else None

        return self._save(lambda recover: self.soap_call("IProduct", "SaveProduct", product=info, record=record,
                                                         recover=recover,
                                                         expect=saved_id("IProduct/SaveProduct", record)),
                          None if info.get("Id") else already_created, record)

    def find_product_by_code(self, code: str, *, group_name: str = "", record: str | None = None) -> dict | None:
        return self.soap_call("IProduct", "FindProductByCode", code=code, groupName=group_name, record=record,
                              expect=lambda result: only(result.get("ProductInfoList") or [], "Code", code, "Id",
                                                          record))

    def delete_product_by_code(self, code: str, *, group_name: str = "", record: str | None = None) -> bool:
        """True when deleted, False when no product had this code."""
        result = self.soap_call("IProduct", "DeleteProductByCode", code=code, groupName=group_name, record=record)
        return self.confirm_deleted(result, "IProduct/DeleteProductByCode", record,
                             lambda: self.find_product_by_code(code, group_name=group_name, record=record))

    # -- documents: the typed operations of ``documents`` (one instance per kind), kept here by name ------
    def save_quote(self, info: dict[str, Any], *, record: str | None = None) -> str:
        return documents.QUOTE.save(self, info, record=record)

    def find_quote_by_number(self, number: str, type_code: str | None, *,
                             record: str | None = None) -> dict | None:
        return documents.QUOTE.find_by_number(self, number, type_code, record=record)

    def delete_quote_by_number(self, number: str, type_code: str | None, *, record: str | None = None) -> bool:
        return documents.QUOTE.delete_by_number(self, number, type_code, record=record)

    def find_quote_by_id(self, crm_id: str, *, record: str | None = None) -> dict | None:
        return self.soap_call("IInvoice", "FindQuoteById", quoteId=crm_id, record=record,
                              expect=found_info("InvoiceInfo", None, record))

    def get_quote(self, crm_id: str, *, record: str | None = None) -> dict:
        """The quote as REST shows it (§3.4: camelCase, ``quoteDate``, ``details``)."""
        return self.call("crmobject/quote/sales/get", {"id": crm_id}, record=record, expect=object_answer)

    def save_return_invoice(self, info: dict[str, Any], *, record: str | None = None) -> str:
        return documents.SALES_RETURN.save(self, info, record=record)

    def find_return_invoice_by_number(self, number: str, type_code: str | None, *,
                                      record: str | None = None) -> dict | None:
        return documents.SALES_RETURN.find_by_number(self, number, type_code, record=record)

    def delete_return_invoice_by_number(self, number: str, type_code: str | None, *,
                                        record: str | None = None) -> bool:
        return documents.SALES_RETURN.delete_by_number(self, number, type_code, record=record)

    def save_payment(self, info: dict[str, Any], *, kind: str | None = None, record: str | None = None) -> str:
        """Save a receipt or a payment (one PaymentInfo, one SavePayment). ``kind`` ("receipt" or
        "payment") sets CrmObjectTypeIndex when missing and picks the finder a retried create uses;
        without it, the index decides, else both finders are asked."""
        index = info.get("CrmObjectTypeIndex")
        if kind is None:
            kind = next((k for k, i in PAYMENT_KINDS.items() if i == index), None)
        elif kind not in PAYMENT_KINDS:
            raise ValueError(f"payment kind must be one of {tuple(PAYMENT_KINDS)}, not {kind!r}")
        if kind is not None:
            info = with_type(info, None, index=PAYMENT_KINDS[kind])
        kinds = {"receipt": documents.RECEIPT, "payment": documents.PAYMENT}
        finders = [document.find for k, document in kinds.items() if kind in (None, k)]

        def find(number: str, code: str | None) -> dict | None:
            return next(filter(None, (finder(self, number, code, record) for finder in finders)), None)

        return self.save_billable("IPayment", "SavePayment", "paymentInfo", info, record, find)

    def find_receipt_by_number(self, number: str, type_code: str | None = None, *,
                               record: str | None = None) -> dict | None:
        return documents.RECEIPT.find_by_number(self, number, type_code, record=record)

    def find_payment_by_number(self, number: str, type_code: str | None = None, *,
                               record: str | None = None) -> dict | None:
        return documents.PAYMENT.find_by_number(self, number, type_code, record=record)

    def delete_receipt_by_number(self, number: str, type_code: str | None = None, *,
                                 record: str | None = None) -> bool:
        """``type_code`` only narrows the look-up that tells "no such receipt" from a refusal."""
        return documents.RECEIPT.delete_by_number(self, number, type_code, record=record)

    def delete_payment_by_number(self, number: str, type_code: str | None = None, *,
                                 record: str | None = None) -> bool:
        return documents.PAYMENT.delete_by_number(self, number, type_code, record=record)

    def find_sales_invoice_by_number(self, number: str, type_code: str | None, *,
                                     record: str | None = None) -> dict | None:
        return documents.SALES_INVOICE.find_by_number(self, number, type_code, record=record)

    def get_sales_invoice(self, crm_id: str, *, record: str | None = None) -> dict:
        return documents.SALES_INVOICE.get(self, crm_id, record=record)

    def create_sales_invoice(self, payload: dict[str, Any], *, record: str | None = None) -> str:
        return documents.SALES_INVOICE.create(self, payload, record=record)

    def update_sales_invoice(self, crm_id: str, payload: dict[str, Any], *, record: str | None = None) -> str:
        return documents.SALES_INVOICE.update(self, crm_id, payload, record=record)

    def delete_sales_invoice(self, crm_id: str, *, record: str | None = None) -> None:
        """Raises NotFound when the CRM holds no invoice with this id."""
        documents.SALES_INVOICE.delete(self, crm_id, record=record)

    # -- SOAP helpers ---------------------------------------------------------------------------
    def save_billable(self, service: str, operation: str, param: str, info: dict[str, Any],
                       record: str | None, find: Callable[[str, str | None], dict | None]) -> str:
        """Save*, with the subtype's CrmObjectTypeId (``with_type_id``); a create (no CrmId) that is retried or
        refused first looks for what it may have made."""
        info = self.with_type_id(info, record)
        number, type_code = info.get("Number"), info.get("CrmObjectTypeCode")

        def already_created() -> str | None:
            found = find(number, type_code) if number else None
            return found["CrmId"] if found else None

        return self._save(lambda recover: self.soap_call(service, operation, record=record, recover=recover,
                                                         expect=saved_id(f"{service}/{operation}", record),
                                                         **{param: info}),
                          None if info.get("CrmId") else already_created, record)

    def _save(self, send: Callable[[Callable[[], str | None] | None], str],
              already_created: Callable[[], str | None] | None, record: str | None) -> str:
        """A Save* call; for a create (``already_created`` given) the finder guards both ways a write can
        land unseen: a retry looks before it resends (``recover``), and a refusal (a Client fault, Success=
        false) is looked up before it stands, since a fault can come after the write committed. A record
        the CRM holds is adopted; one it does not hold is rejected with the CRM's reason. A refusal of the
        credentials or a permission is an AuthError, not the record's (``raise_if_access_refused``)."""
        try:
            return send(already_created)
        except RecordRejected as refused:
            self.raise_if_access_refused(refused.body or refused.reason, refused.endpoint, record)
            if already_created is None:
                raise
            try:
                crm_id = already_created()
            except RecordRejected:
                raise refused from None  # the look-up is refused too (credentials, wiring): the refusal stands
            if crm_id is None:
                raise
            log.warning("%s: the CRM answered %s, but it holds the record (%s): adopted", record or refused.endpoint,
                        refused.reason, crm_id)
            return crm_id

    def confirm_deleted(self, result: dict[str, Any], endpoint: str, record: str | None,
                        find: Callable[[], dict | None], *, confirm_success: bool = False) -> bool:
        """Success → True (with ``confirm_success``, once ``find`` no longer finds it: a document still there
        after a successful answer is refused). Success=false is either "nothing by that key" (→ False) or a
        refusal (the record is still there → RecordRejected); the vendor's wording for either is unknown, so
        look — after ruling out refused credentials or permission (``raise_if_access_refused``), under which
        every look-up answers "none" too."""
        message = result.get("Message")
        if result.get("Success"):
            if not confirm_success or find() is None:
                return True
            raise RecordRejected("the CRM answered that it deleted it, but it still holds it", record=record,
                                 endpoint=endpoint, body=message)
        self.raise_if_access_refused(message, endpoint, record)
        if find() is None:
            return False
        raise RecordRejected(f"the CRM refused to delete it: {message or 'no reason given'}",
                             record=record, endpoint=endpoint, body=message)

    # -- concurrency ----------------------------------------------------------------------------
    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T], *, stop: Callable[[], bool] | None = None
                       ) -> Iterator[tuple[T, R | None, Exception | None]]:
        """Run ``fn`` over items on the client's pool (at most ``max_workers`` threads, shared by every call of
        this method: ``fn`` must not call it); yields (item, result, error) as done.

        A PayamgostarError is that item's error. An AuthError is everyone's: the items not yet started are
        never started, those running are waited for and yielded unless they failed the same way, and then
        the first AuthError is raised (no item is yielded with it). Any other exception is raised as it
        is once the running items are done; leaving the loop early cancels what has not started. An item
        for which ``stop()`` answers True when it is about to start is left out (neither run nor yielded)."""
        refusal = threading.Event()

        def run(item: T) -> Any:
            if refusal.is_set() or (stop is not None and stop()):
                return _SKIPPED
            try:
                return fn(item)
            except AuthError:
                refusal.set()  # before this worker can take the next item
                raise

        pool = self._executor()
        refused: AuthError | None = None
        futures: dict[Future[Any], T] = {}
        try:
            futures = {pool.submit(run, item): item for item in items}
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                item = futures[future]
                try:
                    result = future.result()
                except AuthError as exc:
                    if refused is None:
                        refused = exc
                        not_started = sum(f.cancel() for f in futures)
                        log.error("%s; stopping: %d record(s) not sent", exc, not_started)
                    continue
                except PayamgostarError as exc:
                    yield item, None, exc
                    continue
                if result is not _SKIPPED:
                    yield item, result, None
        finally:  # what has not started never will; what runs is waited for
            for future in futures:
                future.cancel()
            wait(futures)
        if refused is not None:
            raise refused

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="payamgostar")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()

    def __enter__(self) -> PayamgostarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sweeps: what changed since a moment, to catch webhooks that never arrived (§6) ---------
    @staticmethod
    def _crm_wall_time(since: datetime) -> str:
        """``since`` as the CRM writes its dates: Tehran wall time without an offset (§3.0), in whole
        seconds rounded down (the window only grows). A naive ``since`` is taken as CRM wall time."""
        if since.tzinfo is not None:
            since = since.astimezone(soap.CRM_TIMEZONE).replace(tzinfo=None)
        return since.replace(microsecond=0).isoformat(timespec="seconds")

    def identities_modified_since(self, since: datetime, *, page_size: int = 200) -> Iterator[tuple[str, dict]]:
        """Every person, then every organization, whose ModifyDate is at or after ``since``, as (kind, record).

        REST ``<kind>/find`` (§3.6) with ``ModifyDate`` GreaterThanOrEqual (operator 2), 1-based pages of
        ``page_size`` until a page is short (or ``total`` is reached). Ordered by creation date, which an edit
        does not change: a record edited during the sweep stays on its page, so none is skipped (one that
        starts to match mid-sweep may push another onto the next page, where it is seen twice)."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        value = self._crm_wall_time(since)
        for kind in IDENTITY_KINDS:
            page = 1
            while True:
                body = {"queries": [{"logicalOperator": AND, "field": "ModifyDate", "operator": 2, "value": value}],
                        "orders": [{"field": "CreatDate", "order": 0}],
                        "pageNumber": page, "pageSize": page_size}
                rows, total = self.call(f"crmobject/{kind}/find", body, record=f"{kind} sweep", expect=found_page)
                for row in rows:
                    yield kind, row
                if len(rows) < page_size or (isinstance(total, int) and page * page_size >= total):
                    break
                page += 1

    def quotes_modified_since(self, since: datetime, type_code: str = "") -> list[dict]:
        """Quotes of subtype ``type_code`` (empty: every subtype) whose ModifyDate is at or after ``since``.

        SOAP IInvoice ``SearchQuote(typeKey, query)`` with ``ModifyDate >= "<wall time>"``: the query grammar
        is not published (§4.5, §7); this is the ``Field op "value"`` form clients use. Search* has no paging,
        so every match comes in one answer. Rows are InvoiceInfo dicts keyed as the XSD (``CrmId``,
        ``Number``, ``ModifyDate`` as a datetime ...). ``Success=false`` reads as "none found"."""
        query = f'ModifyDate >= "{self._crm_wall_time(since)}"'
        result = self.soap_call("IInvoice", "SearchQuote", typeKey=type_code or "", query=query,
                                record="quote sweep", expect=searched_quotes)
        if not result.get("Success"):
            message = result.get("Message") or ""
            if message and "not found" not in message.lower():
                log.warning("quote sweep: SearchQuote answered Success=false (%s); taken as none found", message)
            return []
        rows = [row for row in result.get("InvoiceInfoList") or [] if row]
        return rows or ([result["InvoiceInfo"]] if result.get("InvoiceInfo") else [])
