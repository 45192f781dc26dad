"""Airflow hook: builds a PayamgostarClient from the `payamgostar_default` connection.

Connection fields: host (``https://crm.example.com`` or a bare host name), port, login, password;
extras: ``timeout`` (seconds), ``max_attempts``, ``max_workers``, ``device_id``, ``scheme``; and the switches of
behaviours that rest on what no real CRM has shown yet: ``resolve_type_ids`` (Save* sends CrmObjectTypeId,
``crm_types``), ``access_probe`` and ``access_refusals`` (a list of message fragments: ``access``),
``internal_fault_rejects`` (a record's persistent InternalServiceFault is its rejection, ``client``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from hamgam.payamgostar.client import PayamgostarClient


def base_url_of(host: str | None, port: int | None, scheme: str = "https") -> str:
    host = (host or "").strip().rstrip("/")
    if not host:
        raise ValueError("the Payamgostar connection has no host")
    if "://" not in host:
        host = f"{scheme}://{host}"
    if port and host.count(":") < 2:  # scheme's colon only: no port given in the host itself
        host = f"{host}:{port}"
    return host


class PayamgostarHook(BaseHook):
    conn_name_attr = "payamgostar_conn_id"
    default_conn_name = "payamgostar_default"
    conn_type = "payamgostar"  # registered by hamgam.provider_info; the DAGs accept a connection of any type
    hook_name = "Payamgostar CRM"

    def __init__(self, payamgostar_conn_id: str = default_conn_name, *,
                 client_class: type[PayamgostarClient] = PayamgostarClient, **client_kwargs: Any):
        """``client_class``: what ``get_conn`` builds (``hamgam.payamgostar.dry_run.DryRunClient`` for a dry run)."""
        super().__init__()
        self.payamgostar_conn_id = payamgostar_conn_id
        self.client_class = client_class
        self.client_kwargs = client_kwargs

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button (Airflow calls it where ``[core] test_connection`` is Enabled):
        ``hamgam check``'s CRM rows — REST login, one SOAP call, the settings' type codes, one find per
        endpoint — as (passed, what failed or passed). It never shows the password."""
        from hamgam.check.crm import connection_test
        from hamgam.check.report import scrub

        passed, message = connection_test(lambda: PayamgostarHook(self.payamgostar_conn_id, **{
            "max_attempts": 2, **self.client_kwargs}).get_conn(), self.payamgostar_conn_id)
        try:
            password = self.get_connection(self.payamgostar_conn_id).password
        except Exception:  # not defined: connection_test said so
            password = None
        return passed, scrub(message, [password])

    def get_conn(self) -> PayamgostarClient:
        conn = self.get_connection(self.payamgostar_conn_id)
        extra = conn.extra_dejson
        kwargs: dict[str, Any] = {}
        if "timeout" in extra:
            kwargs["timeout"] = (5.0, float(extra["timeout"]))
        for key in ("max_attempts", "max_workers"):
            if key in extra:
                kwargs[key] = int(extra[key])
        if "device_id" in extra:
            kwargs["device_id"] = str(extra["device_id"])
        for key in ("resolve_type_ids", "access_probe", "internal_fault_rejects"):
            if key in extra:
                kwargs[key] = _flag(extra[key])
        if "access_refusals" in extra:
            refusals = extra["access_refusals"]
            kwargs["access_refusals"] = (refusals,) if isinstance(refusals, str) else tuple(map(str, refusals))
        kwargs.update(self.client_kwargs)
        url = base_url_of(conn.host, conn.port, extra.get("scheme", conn.schema or "https") or "https")
        return self.client_class(url, conn.login or "", conn.password or "", **kwargs)


def _flag(value: Any) -> bool:
    """An extra's yes/no: JSON true/false, or the strings "true"/"false" (a form field)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
