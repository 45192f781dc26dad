"""The hamgam web app: Payamgostar's webhooks and the CRM's live stock read, served by the Airflow plugin.

``create_app(...)`` builds the FastAPI app; ``app`` is the one the plugin mounts at ``/hamgam`` in the
Airflow API server; ``python -m hamgam.webapp --port 8790`` serves it with plain uvicorn (no Airflow).
Both are imported lazily, so ``hamgam.webapp.events`` (the asset URIs the reverse DAGs are scheduled
on) can be read at DAG-parse time without importing FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from hamgam.webapp.api import create_app

    app: FastAPI

__all__ = ["app", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("app", "create_app"):
        from hamgam.webapp import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
