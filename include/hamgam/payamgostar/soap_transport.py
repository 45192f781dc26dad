"""The CRM's SOAP transport (§4): one POST of an envelope to ``/Services/API/<service>.svc``; a WCF fault or
an HTTP failure as a typed error, the ``<Op>Result`` read back (``soap.parse_response``) and checked by
``expect``. The envelopes themselves are ``soap``'s; retries and recovery are the client's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from hamgam.payamgostar import soap
from hamgam.payamgostar.answers import BadShape
from hamgam.payamgostar.errors import PayamgostarError, UnexpectedAnswer
from hamgam.payamgostar.http import raise_for_status, transport_error


class SoapTransport:
    """SOAP calls of a client (a base of ``PayamgostarClient``, which sets the attributes below)."""

    base_url: str
    session: requests.Session
    timeout: tuple[float, float]

    def _soap_once(self, service: str, operation: str, headers: dict[str, str], body: bytes,
                   record: str | None, expect: Callable[[dict[str, Any]], Any] | None = None) -> Any:
        endpoint = f"{service}/{operation}"
        try:
            response = self.session.post(f"{self.base_url}/{soap.service_path(service)}", data=body,
                                         headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise transport_error(exc, endpoint, record) from exc
        status = response.status_code
        if status >= 400 and status != 429:  # WCF sends its faults with 500
            fault = soap.fault_of(response.content)
            if fault is not None:
                raise soap.fault_error(fault, endpoint=endpoint, record=record, status=status)
            if status == 404:  # the service itself is missing: configuration, not this record
                raise PayamgostarError(f"the CRM has no SOAP service at /{soap.service_path(service)}",
                                       record=record, endpoint=endpoint, status=status)
        raise_for_status(response, endpoint, record)
        content_type = response.headers.get("Content-Type")
        result = soap.parse_response(operation, response.content, record=record, status=status,
                                     content_type=content_type)
        if expect is None:
            return result
        try:
            return expect(result)
        except BadShape as exc:
            raise UnexpectedAnswer(endpoint, str(exc), record=record, status=status, content_type=content_type,
                                   body=response.content) from None
