"""A Payamgostar client for dry runs: every read goes to the CRM, no write leaves the process.

The finds and gets that decide create / update / adopt are real calls; a create, update, save or delete is
withheld and answered as the CRM would answer a success (a made-up id for a create), so the load that
called it carries on exactly as it would have. ``withheld`` counts the writes per endpoint.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from hamgam.payamgostar.client import PayamgostarClient

REST_WRITES = frozenset({"create", "update", "delete"})  # the last segment of a REST v2 write path
SOAP_WRITES = ("Save", "Delete")  # how the SOAP write operations start
DRY_ID_PREFIX = "dry-run-"  # the ids a withheld create answers with
_WITHHELD_DELETE = "hamgamDryRun"  # marks the answer of a withheld SOAP delete (confirm_deleted)


class DryRunClient(PayamgostarClient):
    """``PayamgostarClient`` whose writes are withheld (see the module); reads are sent as usual."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.withheld: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _withhold(self, endpoint: str) -> str:
        with self._lock:
            self.withheld[endpoint] += 1
            return f"{DRY_ID_PREFIX}{next(self._ids)}"

    def call(self, path: str, body: dict[str, Any], *, record: str | None = None,
             recover: Callable[[], Any] | None = None, expect: Callable[[Any], Any] | None = None) -> Any:
        verb = path.rstrip("/").rsplit("/", 1)[-1]
        if verb not in REST_WRITES:
            return super().call(path, body, record=record, recover=recover, expect=expect)
        made_up = self._withhold(path)
        if verb == "create":
            return made_up
        if verb == "update":
            return body.get("crmId")
        return None

    def soap_call(self, service: str, operation: str, *, record: str | None = None,
                  recover: Callable[[], Any] | None = None, expect: Callable[[dict[str, Any]], Any] | None = None,
                  **params: Any) -> Any:
        if not operation.startswith(SOAP_WRITES):
            return super().soap_call(service, operation, record=record, recover=recover, expect=expect, **params)
        made_up = self._withhold(f"{service}/{operation}")
        if operation.startswith("Delete"):
            return {"Success": True, _WITHHELD_DELETE: True}
        info = next((v for v in params.values() if isinstance(v, dict)), {})
        return info.get("CrmId") or info.get("Id") or made_up  # Save*: an update keeps its id

    def confirm_deleted(self, result: dict[str, Any], endpoint: str, record: str | None,
                        find: Callable[[], dict | None], *, confirm_success: bool = False) -> bool:
        if result.get(_WITHHELD_DELETE):
            return True  # the CRM still holds it: the delete was never sent
        return super().confirm_deleted(result, endpoint, record, find, confirm_success=confirm_success)

    def writes_withheld(self) -> int:
        return sum(self.withheld.values())
