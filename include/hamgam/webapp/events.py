"""What the CRM's webhooks announce, and the Airflow assets that carry the news to the reverse DAGs.

Light on purpose (no FastAPI, no database): DAG files import it to schedule the reverse DAGs on
``webhook_asset("customer")`` / ``webhook_asset("salequote")`` (optionally OR-ed with a cron sweep).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hamgam.ledger.models import EVENT_KINDS, EVENT_SOURCES

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = ["ASSET_URIS", "EVENT_KINDS", "EVENT_SOURCES", "WEBHOOK_CONN_ID", "webhook_asset"]

# One asset per webhook: /api/sync/customer (identities) and /api/sync/salequote (quotes).
ASSET_URIS: dict[str, str] = {source: f"hamgam://payamgostar/{source}" for source in EVENT_SOURCES}

# The Airflow connection whose password is the webhooks' shared secret (the `token` query parameter).
WEBHOOK_CONN_ID = "hamgam_webhook"


def webhook_asset(source: str) -> Asset:
    """The Airflow asset a webhook of ``source`` (customer or salequote) emits an event for."""
    from airflow.sdk import Asset

    return Asset(ASSET_URIS[source])
