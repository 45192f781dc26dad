"""What the hamgam page asks of the Airflow it runs in: who the caller is (Airflow's own login), whether they may
run a DAG, triggering a DAG run as that user (Airflow's public API), and a line in Airflow's audit log.

Each is a plain callable so that ``create_app`` can be given others (tests, ``python -m hamgam.webapp``
without Airflow). The defaults import Airflow when first called, inside the API server.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

log = logging.getLogger(__name__)

# Airflow's session cookie (airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN)
TOKEN_COOKIE = "_token"
OUTSIDE_AIRFLOW = "the hamgam page needs Airflow's login: open it through the Airflow API server (/hamgam/ there)"


@dataclass(frozen=True)
class Viewer:
    """The logged-in Airflow user, and the token that proves it (to act as them in Airflow's API)."""

    name: str
    token: str
    user: Any = None  # the auth manager's user object, for its permission checks




UserResolver = Callable[[str], "Awaitable[Any] | Any"]  # token → a user (get_name()); raises HTTPException if refused
MayRun = Callable[[Viewer, str], bool]  # may the user trigger runs of this DAG
Trigger = Callable[[Request, Viewer, str, dict[str, Any], str], dict[str, Any]]  # → the new run (JSON)
Audit = Callable[[Viewer, str, str | None, dict[str, Any]], None]
LoginUrl = Callable[[str], str]


def caller_token(request: Request) -> str | None:
    """The caller's Airflow token: ``Authorization: Bearer`` (API clients), else the UI's session cookie."""
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


async def airflow_user(token: str) -> Any:
    """The user Airflow's auth manager reads from ``token`` (401 expired or missing, 403 invalid), as
    Airflow's own API checks it (``airflow.api_fastapi.core_api.security.resolve_user_from_token``)."""
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    return await resolve_user_from_token(token)


def airflow_may_run(viewer: Viewer, dag_id: str) -> bool:
    """Whether Airflow's auth manager lets the user create runs of ``dag_id`` (checked before the ledger is
    touched; Airflow's API checks it again when the run is triggered)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN,
                                                     details=DagDetails(id=dag_id), user=viewer.user))


async def resolve_viewer(request: Request, resolver: UserResolver) -> Viewer:
    token = caller_token(request)
    if not token:
        raise HTTPException(401, "log in to Airflow first: this page is behind Airflow's login",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        user = resolver(token)
        if inspect.isawaitable(user):
            user = await user
    except HTTPException:
        raise
    except Exception as exc:  # no auth manager: the app runs outside Airflow (python -m hamgam.webapp)
        log.warning("the hamgam page cannot check a login here: %s: %s", type(exc).__name__, exc)
        raise HTTPException(503, OUTSIDE_AIRFLOW) from None
    return Viewer(str(user.get_name()), token, user)


def airflow_login_url(next_url: str) -> str:
    """Airflow's login page, coming back to ``next_url`` afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def airflow_api_base(request: Request) -> str:
    """The Airflow API server this request came through (the app is mounted in it at ``/hamgam``)."""
    root = request.scope.get("root_path", "")
    prefix = root[: -len("/hamgam")] if root.endswith("/hamgam") else ""
    return f"{request.url.scheme}://{request.url.netloc}{prefix}"


def trigger_as_user(request: Request, viewer: Viewer, dag_id: str, conf: dict[str, Any], note: str
                    ) -> dict[str, Any]:
    """``POST /api/v2/dags/{dag_id}/dagRuns`` with the caller's own token: Airflow checks their permission on the
    DAG and records the trigger in its audit log under their name."""
    import httpx

    url = f"{airflow_api_base(request)}/api/v2/dags/{dag_id}/dagRuns"
    answer = httpx.post(url, json={"logical_date": None, "conf": conf, "note": note},
                        headers={"Authorization": f"Bearer {viewer.token}"}, timeout=30)
    if answer.status_code >= 400:
        detail = answer.text[:300]
        log.warning("triggering %s for %s: Airflow answered %s: %s", dag_id, viewer.name, answer.status_code, detail)
        raise HTTPException(502 if answer.status_code >= 500 else answer.status_code,
                            f"Airflow refused to trigger {dag_id} ({answer.status_code}): {detail}")
    run: dict[str, Any] = answer.json()
    return run


def airflow_audit(viewer: Viewer, event: str, dag_id: str | None, extra: dict[str, Any]) -> None:
    """One row in Airflow's audit log (``Log``: the UI's Browse → Audit Log, the API's ``/eventLogs``)."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(Log(event=event, owner=viewer.name, dag_id=dag_id,
                        extra=json.dumps(extra, ensure_ascii=False, default=str)))
