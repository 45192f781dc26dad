"""hamgam as an Airflow provider (entry point ``apache_airflow_provider`` in pyproject.toml): it registers the
connection type ``payamgostar`` with ``PayamgostarHook``, so the connection form offers "Payamgostar CRM" and
its Test button runs ``PayamgostarHook.test_connection`` (where ``[core] test_connection`` is Enabled).
A connection of another type (the README's earlier ``http``) still works for the DAGs, which never look at
the type; only the Test button needs ``payamgostar``."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "hamgam",
        "name": "hamgam",
        "description": "Tadbir <-> Payamgostar synchronisation: the Payamgostar CRM connection type",
        "connection-types": [{"hook-class-name": "hamgam.payamgostar.hook.PayamgostarHook",
                              "connection-type": "payamgostar"}],
    }
