"""Typed CRM errors: what the caller should do is in the type, what happened is in the message."""

from __future__ import annotations


class PayamgostarError(Exception):
    """A CRM call failed. Carries the record it was for, the endpoint, status and a body excerpt."""

    def __init__(self, message: str, *, record: str | None = None, endpoint: str | None = None,
                 status: int | None = None, body: str | None = None):
        self.record = record
        self.endpoint = endpoint
        self.status = status
        self.body = (body or "")[:500]
        self.reason = message
        where = f"{record}: " if record else ""
        detail = f" ({endpoint} -> {status})" if endpoint and status else (f" ({endpoint})" if endpoint else "")
        super().__init__(f"{where}{message}{detail}")


class RetriableError(PayamgostarError):
    """5xx, 429, timeouts and connection errors: worth trying again later."""

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class UnexpectedAnswer(RetriableError):
    """The CRM answered 2xx with something that is not this call's answer: an HTML page (a proxy's, a
    maintenance page), a cut-off body, JSON or XML of the wrong shape, an id that is not a CRM id.

    Retriable, like a lost answer: for a write it is ambiguous (it may have been saved), so a retried
    create first looks for what it made (``recover``); the answer is never taken as an id. Reads as
    "unexpected answer from crmobject/person/find: not JSON (text/html, '<!DOCTYPE html>…')"."""

    def __init__(self, endpoint: str, what: str, *, record: str | None = None, status: int | None = None,
                 content_type: str | None = None, body: str | bytes | None = None):
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        kind = (content_type or "").split(";")[0].strip() or "no content type"
        super().__init__(f"unexpected answer from {endpoint}: {what} ({kind}, {snippet(body)!r})", record=record,
                         endpoint=endpoint, status=status, body=body)
        where = f"{record}: " if record else ""
        Exception.__init__(self, f"{where}{self.reason}")  # the endpoint is named once, in the reason


class ServiceFault(RetriableError):
    """WCF's ``InternalServiceFault``: the service broke while handling the call. Retried; when it persists for
    one record while the CRM answers other calls, the client makes it that record's rejection."""


class GaveUp(RetriableError):
    """Retries were exhausted; the last retriable error is the __cause__."""


class AuthError(PayamgostarError):
    """Login refused (wrong user or password, locked out, module not licensed)."""


class UnknownCrmObjectType(PayamgostarError):
    """A type code (CrmObjectTypeCode) the CRM does not list among the subtypes of its object type: the
    settings name a subtype this CRM does not have. A configuration error, not a record's rejection."""


class RecordRejected(PayamgostarError):
    """The CRM refused this record (4xx validation): fix the data, do not retry."""


class NotFound(RecordRejected):
    """The CRM does not hold the record asked for (404)."""


def snippet(text: str | None, limit: int = 60) -> str:
    """The start of ``text`` on one line, with "…" when there was more."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
