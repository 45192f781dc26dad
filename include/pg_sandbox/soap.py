"""The SOAP 1.1 endpoints: POST /Services/API/{IProduct,IInvoice,IPayment,ICrmObjectType}.svc (§4.1).

Each call is counted as `<Service>/<Operation>` (by its SOAPAction) and takes the same
fault path as REST calls (calls.py); injected errors are SOAP faults (an `s:Client` fault
after a committed write with `soap_fault_after_commit_rate`), a cut-off answer is a
truncated envelope (`truncated_soap_rate`), the HTML page is the shared one.

In order, a request must:
1. be `Content-Type: text/xml` (else HTTP 415, as basicHttpBinding answers);
2. carry `SOAPAction: "http://tempuri.org/<Service>/<Op>"` for an operation this service
   serves (else `a:ActionNotSupported`);
3. be a SOAP 1.1 envelope whose Body holds `<Op xmlns="http://tempuri.org/">` matching
   that action, with every element as the contract says (else `a:DeserializationFailed`,
   see soap_codec);
4. carry the sandbox's user name and password as `userName` (ICrmObjectType: `username`) and
   `password` (else an `s:Client` fault "The user name or password is incorrect.");
5. be an operation the user may call (not in `soap_denied_operations`, else "Access denied").
A save of a record named in `soap_fault_numbers` answers `a:InternalServiceFault` every time.
With `soap_refusal = "result"` the refusals of 4 and 5 are the operation's result instead of a
fault: HTTP 200, Success=false, the reason in Message (the zero GUID as a save's CrmId).
Faults answer HTTP 500 (400 for a body that is not XML), Content-Type text/xml.
"""

import hmac
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from pg_sandbox.calls import Outcome, run_call
from pg_sandbox.faults import FaultPlan
from pg_sandbox.soap_codec import (
    CONTENT_TYPE,
    SoapFault,
    action_not_supported,
    client_fault,
    internal_fault,
    read_request,
    response_envelope,
)
from pg_sandbox.soap_contract import OPERATIONS, Operation
from pg_sandbox.soap_ops import Handler, handlers

if TYPE_CHECKING:
    from pg_sandbox.app import Sandbox

PREFIXES = ("/Services/API", "/services/api")  # IIS ignores case; these two spellings are in use
_SERVICE_FILES = {f"{service.lower()}.svc": service for service in OPERATIONS}
BAD_CREDENTIALS = "The user name or password is incorrect."
ACCESS_DENIED = "Access denied: the user has no permission for {operation}."
FAULT_AFTER_COMMIT = "The request could not be completed. (Injected fault after the write was saved, pg_sandbox.)"


class SoapFailures:
    truncated_fault = "truncated_soap"

    @staticmethod
    def fault_after_commit(plan: FaultPlan) -> tuple[str, Response] | None:
        if not plan.soap_fault_after_commit:
            return None
        return "soap_fault_after_commit", _fault_response(client_fault(FAULT_AFTER_COMMIT))

    @staticmethod
    def rate_limited(retry_after: str) -> Response:
        fault = SoapFault("s:Server", f"Too many requests; retry after {retry_after} s. (Injected fault, pg_sandbox.)",
                          status=429)
        return _fault_response(fault, {"Retry-After": retry_after})

    @staticmethod
    def server_error() -> Response:
        return _fault_response(internal_fault())


def router(sandbox: "Sandbox") -> APIRouter:
    routes = APIRouter(tags=["SOAP (WCF basicHttpBinding)"])
    # (service, operation) -> handler
    served = handlers(sandbox.products, sandbox.invoices, sandbox.payments, sandbox.webhooks.notify,
                      lambda: sandbox.settings)

    async def endpoint(service_file: str, request: Request) -> Response:
        service = _SERVICE_FILES.get(service_file.lower())
        if service is None:
            raise HTTPException(404, f"No SOAP service at {request.url.path}.")
        action = (request.headers.get("soapaction") or "").strip().strip('"')
        operation = next((op for op in OPERATIONS[service].values() if op.action == action), None)
        name = f"{service}/{operation.name if operation else '(unknown action)'}"
        raw = await request.body()
        content_type = request.headers.get("content-type") or ""
        return await run_call(
            sandbox, name, bool(operation and operation.is_write), SoapFailures,
            lambda: _work(sandbox, service, operation, served, action, content_type, raw))

    for prefix in PREFIXES:
        routes.add_api_route(prefix + "/{service_file}", endpoint, methods=["POST"],
                             include_in_schema=prefix == PREFIXES[0], name=f"soap{prefix.replace('/', '_')}")
    return routes


def _work(sandbox: "Sandbox", service: str, operation: Operation | None, served: dict[tuple[str, str], Handler],
          action: str, content_type: str, raw: bytes) -> Outcome:
    if not content_type.lower().startswith("text/xml"):
        message = (f"Cannot process the message because the content type '{content_type}' was not the expected"
                   f" type '{CONTENT_TYPE}'.")
        return Outcome(Response(message, status_code=415, media_type="text/plain; charset=utf-8"), False)
    try:
        if operation is None:
            raise action_not_supported(action, tuple(OPERATIONS[service]))
        params = read_request(raw, operation)
        if operation.is_write and _breaks_on(sandbox, params):
            raise internal_fault()
        refusal = _refusal(sandbox, operation, params)
        if refusal is not None and sandbox.settings.soap_refusal == "result":
            result = {"message": refusal, "success": False}
        elif refusal is not None:
            raise client_fault(refusal)
        else:
            result = served[(service, operation.name)](params)
    except SoapFault as fault:
        return Outcome(_fault_response(fault), False)
    response = Response(response_envelope(operation, result), status_code=200, media_type=CONTENT_TYPE)
    return Outcome(response, operation.is_write and result.get("success") is True)


def _refusal(sandbox: "Sandbox", operation: Operation, params: dict[str, Any]) -> str | None:
    """Why the user may not make this call (wrong credentials, no permission for it), or None."""
    settings = sandbox.settings
    given = [params.get(operation.user_element) or "", params.get("password") or ""]
    matches = [hmac.compare_digest(a.encode(), b.encode())
               for a, b in zip(given, (settings.username, settings.password), strict=True)]
    if not all(matches):
        return BAD_CREDENTIALS
    denied = set(settings.soap_denied_operations)
    if denied & {"*", operation.name, f"{operation.service}/{operation.name}"}:
        return ACCESS_DENIED.format(operation=f"{operation.service}/{operation.name}")
    return None


def _breaks_on(sandbox: "Sandbox", params: dict[str, Any]) -> bool:
    """A save of a record whose number (a product's code) is in `soap_fault_numbers`."""
    numbers = {n.casefold() for n in sandbox.settings.soap_fault_numbers}
    return bool(numbers) and any(
        isinstance(value, dict) and str(value.get("number") or value.get("code") or "").casefold() in numbers
        for value in params.values())


def _fault_response(fault: SoapFault, headers: dict[str, str] | None = None) -> Response:
    return Response(fault.envelope(), status_code=fault.status, media_type=CONTENT_TYPE, headers=headers)
