"""Telling Airflow that a webhook arrived: an asset event, so the DAGs scheduled on the asset run.

A notifier is any ``notify(asset_uri, extra)`` callable. The web app calls it after it has answered the
CRM (a background task); whatever it raises is logged, never returned to the CRM: the event is already
in the ledger, and the reverse DAGs' scheduled sweep picks it up if the asset event never comes.

``airflow_asset_event`` is the notifier inside the Airflow API server. It does in-process exactly what
Airflow's own ``POST /api/v2/assets/events`` does: look the asset up and call the configured asset manager
(``[core] asset_manager_class``, ``airflow.assets.manager.asset_manager``) in a metadata-database
session. Doing it in-process needs no Airflow credentials, no token and no URL of the API server itself
(the REST route would need all three); the cost is that it uses Airflow's internal models, so an
Airflow upgrade is checked by the test that runs a real API server (tests/webapp, marker ``airflow``).

``log_only`` is for running the app without Airflow (``python -m hamgam.webapp``, the demo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Notify = Callable[[str, dict[str, Any]], None]


def log_only(asset_uri: str, extra: dict[str, Any]) -> None:
    """No Airflow here: only say what would have been announced."""
    log.info("no Airflow to notify: asset event for %s not emitted (%s)", asset_uri, extra)


def airflow_asset_event(asset_uri: str, extra: dict[str, Any]) -> None:
    """Emit an asset event for the active asset with URI ``asset_uri`` (inside the Airflow API server).

    An asset no DAG declares has no row in Airflow's database, and an event for it would trigger
    nothing: that is logged as a warning, not raised.
    """
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetActive, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        asset = session.scalar(
            select(AssetModel)
            .join(AssetActive, (AssetActive.name == AssetModel.name) & (AssetActive.uri == AssetModel.uri))
            .where(AssetModel.uri == asset_uri)
            .limit(1))
        if asset is None:
            log.warning("no DAG is scheduled on asset %s, so no asset event was emitted; the event waits in "
                        "the ledger for the scheduled sweep", asset_uri)
            return
        event = asset_manager.register_asset_change(asset=asset, extra=extra, source_is_api=True,
                                                    session=session)
        if event is None:
            log.warning("Airflow did not record an asset event for %s", asset_uri)
            return
    log.info("asset event emitted for %s", asset_uri)


def notify_safely(notify: Notify, asset_uri: str, extra: dict[str, Any]) -> None:
    """Call ``notify``; log and swallow whatever it raises."""
    try:
        notify(asset_uri, extra)
    except Exception:  # the CRM has its answer already; the sweep catches up
        log.exception("could not notify Airflow of %s %s %s (the scheduled sweep will pick it up)",
                      extra.get("source"), extra.get("event"), extra.get("crm_id"))
