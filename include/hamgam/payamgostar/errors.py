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


class GaveUp(RetriableError):
    """Retries were exhausted; the last retriable error is the __cause__."""


class AuthError(PayamgostarError):
    """Login refused (wrong user or password, locked out, module not licensed)."""


class RecordRejected(PayamgostarError):
    """The CRM refused this record (4xx validation): fix the data, do not retry."""


class NotFound(RecordRejected):
    """The CRM does not hold the record asked for (404)."""
